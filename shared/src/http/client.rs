//! The one HTTP client setup: rustls, a total timeout per request and a shorter connect timeout,
//! one user agent. A process builds one and shares it (one connection pool per host).

use std::time::Duration;

use reqwest::Url;

/// Builds the client every API call goes through.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .user_agent(concat!("lms-ghl-sync/", env!("CARGO_PKG_VERSION")))
        // A redirect would turn a POST into a bodiless GET and carry API-key headers to another
        // host; the APIs we call do not redirect, so one is an error to see, not to follow.
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    #[error("{url:?}: {problem}")]
    Invalid { url: String, problem: String },
    #[error("{url:?} cannot be a base")]
    CannotBeABase { url: String },
}

/// Parses an API's base URL so that path segments can be appended to it.
pub fn base_url(url: &str) -> Result<Url, BaseUrlError> {
    let mut base = Url::parse(url).map_err(|e| BaseUrlError::Invalid {
        url: url.to_owned(),
        problem: e.to_string(),
    })?;
    if base.cannot_be_a_base() {
        return Err(BaseUrlError::CannotBeABase { url: url.to_owned() });
    }
    // Segments are appended, so the base must not end in an empty one.
    let trimmed = base.path().trim_end_matches('/').to_owned();
    base.set_path(&trimmed);
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_lose_their_trailing_slash_and_must_be_hierarchical() {
        let base = base_url("https://api.skilljar.com/v1/").map(|u| u.to_string());
        assert_eq!(base.as_deref(), Ok("https://api.skilljar.com/v1"));
        assert!(matches!(
            base_url("mailto:someone@example.com"),
            Err(BaseUrlError::CannotBeABase { .. })
        ));
        assert!(matches!(base_url("not a url"), Err(BaseUrlError::Invalid { .. })));
    }
}
