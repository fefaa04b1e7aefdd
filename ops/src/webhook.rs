//! `webhook sign`: the signature header a generic LMS delivery needs, from the deployment's own
//! webhook secret (replaces the `openssl dgst` recipe).

use lms_ghl::ingest::signature::{SIGNATURE_HEADER, sign};
use lms_ghl::ports::SecretSource;
use secrecy::SecretString;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("webhook secret {id}: {detail}")]
    Secret { id: String, detail: String },
}

/// `x-webhook-signature: t=…,v1=…` for `body` at `timestamp`, with the first of the secret's
/// `generic.signingSecrets`.
pub async fn signature_header(
    secrets: &dyn SecretSource,
    secret_id: &str,
    body: &[u8],
    timestamp: i64,
) -> Result<String, SignError> {
    let problem = |detail: String| SignError::Secret {
        id: secret_id.to_owned(),
        detail,
    };
    let document = secrets
        .secret_string(secret_id)
        .await
        .map_err(|e| problem(e.to_string()))?;
    let parsed: serde_json::Value = {
        use secrecy::ExposeSecret;
        // The parse error would quote the secret's text: only say that it is not JSON.
        serde_json::from_str(document.expose_secret()).map_err(|_| problem("not JSON".into()))?
    };
    let first = parsed["generic"]["signingSecrets"][0]
        .as_str()
        .ok_or_else(|| problem("no generic.signingSecrets[0]".into()))?;
    let secret = SecretString::from(first.to_owned());
    Ok(format!("{SIGNATURE_HEADER}: {}", sign(&secret, timestamp, body)))
}
