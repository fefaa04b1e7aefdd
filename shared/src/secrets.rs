//! Reading secret documents from Secrets Manager: parsing them without leaking, and a
//! per-cold-start cache that re-reads them after a TTL so that rotations take effect without a
//! redeploy. The documents' shapes live with the code that reads them: each webhook provider's
//! section in its ingest file, the GHL credentials in `ghl::auth`.
//!
//! Secret values are `SecretString`s: they print as `[REDACTED]`, and parse errors name only the
//! offending path, never the text around it. Unknown keys are ignored rather than reported, since
//! a key name would be quoted in the error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::sync::RwLock;

use crate::json_error;
use crate::ports::{PortError, SecretSource};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Unavailable(#[from] PortError),
    /// The path and the kind of problem only: the secret's text must never reach a log.
    #[error("secret {id} is malformed at `{path}`: {kind}")]
    Malformed { id: String, path: String, kind: String },
}

/// Parses a secret document without letting any of its text into the error.
pub fn parse_secret<T: DeserializeOwned>(id: &str, value: &SecretString) -> Result<T, SecretError> {
    let mut de = serde_json::Deserializer::from_str(value.expose_secret());
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let (path, kind) = json_error::describe(err);
        SecretError::Malformed {
            id: id.to_owned(),
            path,
            kind,
        }
    })
}

/// One secret document, fetched on first use and again once `ttl` has passed.
pub struct CachedSecret<T> {
    source: Arc<dyn SecretSource>,
    id: String,
    ttl: Duration,
    cached: RwLock<Option<(Instant, Arc<T>)>>,
}

impl<T: DeserializeOwned + Send + Sync> CachedSecret<T> {
    pub fn new(source: Arc<dyn SecretSource>, id: impl Into<String>, ttl: Duration) -> Self {
        Self {
            source,
            id: id.into(),
            ttl,
            cached: RwLock::new(None),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub async fn get(&self) -> Result<Arc<T>, SecretError> {
        if let Some((fetched, value)) = self.cached.read().await.as_ref()
            && fetched.elapsed() < self.ttl
        {
            return Ok(Arc::clone(value));
        }
        let mut slot = self.cached.write().await;
        // Another task may have refreshed it while this one waited for the lock.
        if let Some((fetched, value)) = slot.as_ref()
            && fetched.elapsed() < self.ttl
        {
            return Ok(Arc::clone(value));
        }
        let raw = self.source.secret_string(&self.id).await?;
        let value = Arc::new(parse_secret::<T>(&self.id, &raw)?);
        *slot = Some((Instant::now(), Arc::clone(&value)));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ghl::auth::GhlCredentials;
    use crate::memory::MemorySecrets;

    const TOKEN: &str = "pit-9f8e7d6c-very-secret";

    #[test]
    fn credentials_never_print_their_token() -> Result<(), SecretError> {
        let raw = SecretString::from(format!(
            r#"{{"locationId":"loc-1","privateIntegrationToken":"{TOKEN}"}}"#
        ));
        let creds: GhlCredentials = parse_secret("ghl", &raw)?;
        assert_eq!(creds.location_id, "loc-1");
        assert_eq!(creds.private_integration_token.expose_secret(), TOKEN);
        let printed = format!("{creds:?}");
        assert!(!printed.contains(TOKEN), "{printed}");
        Ok(())
    }

    #[test]
    fn malformed_secret_errors_do_not_quote_the_secret() {
        let cases = [
            // wrong type: serde would quote the value
            format!(r#"{{"locationId":"loc-1","privateIntegrationToken":["{TOKEN}"]}}"#),
            // a required field missing after the token
            format!(r#"{{"privateIntegrationToken":"{TOKEN}"}}"#),
            // broken JSON in the middle of the token
            format!(r#"{{"locationId":"loc-1","privateIntegrationToken":"{TOKEN}"#),
        ];
        for raw in cases {
            let err = parse_secret::<GhlCredentials>("ghl", &SecretString::from(raw))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.starts_with("secret ghl is malformed"), "{err}");
            assert!(!err.contains(TOKEN) && !err.contains("very-secret"), "{err}");
        }
    }

    #[tokio::test]
    async fn cached_secret_reads_once_within_ttl() -> Result<(), SecretError> {
        let source = Arc::new(
            MemorySecrets::default().with("ghl", r#"{"locationId":"loc-1","privateIntegrationToken":"t"}"#),
        );
        let cached: CachedSecret<GhlCredentials> = CachedSecret::new(source, "ghl", Duration::from_secs(300));
        let first = cached.get().await?;
        let second = cached.get().await?;
        assert!(Arc::ptr_eq(&first, &second));
        Ok(())
    }
}
