//! The generic signed format's signature: `X-Webhook-Signature: t=<unix seconds>,v1=<hex>`, where
//! `v1 = hex(HMAC-SHA256(secret, "{t}.{raw body}"))`. Several `v1=` entries may be sent (the
//! sender signs with old and new secret during a rotation); any that matches is enough.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
/// How far a signature's timestamp may be from our clock, either way.
pub const TOLERANCE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing {SIGNATURE_HEADER} header")]
    Missing,
    #[error("{SIGNATURE_HEADER} header must look like `t=<unix seconds>,v1=<hex hmac>`")]
    Malformed,
    #[error("signature timestamp is {age_secs} s away from now (tolerance {TOLERANCE_SECS} s)")]
    Stale { age_secs: i64 },
    #[error("signature does not match the body")]
    Mismatch,
}

/// Computes the header value a sender would send; used by tests, tools and docs.
pub fn sign(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Checks a header value against the body and any of the secrets, in constant time per candidate.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => {
                candidates.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?)
            }
            // Unknown schemes are ignored so that senders can add stronger ones later.
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let age_secs = now_unix.saturating_sub(timestamp);
    if age_secs.abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale { age_secs });
    }
    let matched = secrets.iter().any(|secret| {
        candidates
            .iter()
            .any(|candidate| mac(secret, timestamp, body).verify_slice(candidate).is_ok())
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn mac(secret: &SecretString, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret.expose_secret().as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_763_800_000;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn known_vector() {
        // Same as: printf '%s' '1763800000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_test' -hex
        let header = sign(&secret("whsec_test"), NOW, br#"{"a":1}"#);
        assert_eq!(
            header,
            "t=1763800000,v1=a9db224a1f1edc1efb4bc38736f479db59ccd2613c200c27818ef7a6b0e26a39"
        );
        assert!(verify(Some(&header), br#"{"a":1}"#, &[secret("whsec_test")], NOW).is_ok());
    }

    #[test]
    fn accepts_any_secret_and_any_candidate() {
        let header = sign(&secret("new"), NOW, b"body");
        let with_extra = format!("{header},v1=00ff,v0=legacy");
        let secrets = [secret("old"), secret("new")];
        assert_eq!(verify(Some(&with_extra), b"body", &secrets, NOW), Ok(()));
    }

    #[test]
    fn rejects_tampering_staleness_and_garbage() {
        let secrets = [secret("s")];
        let header = sign(&secrets[0], NOW, b"body");
        assert_eq!(
            verify(Some(&header), b"body!", &secrets, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), b"body", &[secret("other")], NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), b"body", &secrets, NOW + 301),
            Err(SignatureError::Stale { age_secs: 301 })
        );
        assert_eq!(
            verify(Some(&header), b"body", &secrets, NOW - 301),
            Err(SignatureError::Stale { age_secs: -301 })
        );
        assert_eq!(verify(Some(&header), b"body", &secrets, NOW + 300), Ok(()));
        assert_eq!(verify(None, b"body", &secrets, NOW), Err(SignatureError::Missing));
        for bad in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert!(
                verify(Some(bad), b"body", &secrets, NOW).is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
