//! What happens to a request before its handler, per platform, in the order a client meets it at
//! the platform's edge: counting, injected faults (latency, drop, 429, 5xx — even for a request
//! without credentials), the credentials, TalentLMS v2's version header, then the rate limiter.
//! Only authenticated requests spend budget; faulted ones neither spend it nor touch state.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ghl_sandbox::kit::{DropConnection, Fault, Limiter, RateHeaders};
use http::header::{AUTHORIZATION, HeaderValue};
use http::{HeaderMap, StatusCode};
use tokio::time::Instant;

use crate::config::Platform;
use crate::server::{EdgeState, FullPath, Shared};
use crate::{skilljar, talentlms, trainual};

/// How a router's requests prove themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// `Authorization: Basic` with a configured (user name, password) pair.
    Basic,
    /// TalentLMS v2: `X-API-Key` with a configured key, and `X-API-Version: YYYY-MM-DD`.
    TalentLmsKey,
}

#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) shared: Arc<Shared>,
    pub(crate) platform: Platform,
    pub(crate) auth: Auth,
}

impl Gate {
    pub(crate) fn new(shared: &Arc<Shared>, platform: Platform, auth: Auth) -> Self {
        Self {
            shared: shared.clone(),
            platform,
            auth,
        }
    }
}

/// What the edge refuses with; each platform renders it in its own body shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `given`: credentials were sent but are wrong (some platforms word the two cases apart).
    Unauthorized {
        given: bool,
    },
    /// `wait`: whole seconds until the limiter admits again, when the caller is known.
    Throttled {
        wait: Option<u64>,
    },
    Server(StatusCode),
    /// TalentLMS v2 without a well-formed `X-API-Version`.
    BadVersion,
}

/// The budget an answer reports, and for a 429 how long until the limiter admits again.
#[derive(Debug, Clone, Copy)]
struct Budget {
    headers: RateHeaders,
    retry_after: Duration,
}

impl Budget {
    fn of(limiter: &mut Limiter, headers: RateHeaders, now: Instant) -> Self {
        Self {
            headers,
            retry_after: limiter.retry_after(now),
        }
    }

    fn peek(limiter: &mut Limiter, now: Instant) -> Self {
        let headers = limiter.peek(now);
        Self::of(limiter, headers, now)
    }

    /// `Retry-After`: whole seconds, rounded up, at least one (zero would invite a hot loop).
    fn retry_secs(&self) -> u64 {
        let wait = self.retry_after;
        (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
    }
}

pub(crate) async fn gate(
    State(gate): State<Gate>,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    let platform = gate.platform;
    let full_path = req
        .extensions()
        .get::<FullPath>()
        .map_or_else(|| req.uri().path().to_owned(), |full| full.0.clone());
    let (roll, authed) = {
        let mut edge = gate.shared.edge(platform);
        let EdgeState {
            dice,
            faults,
            stats,
            credentials,
            ..
        } = &mut *edge;
        stats.count(
            req.method().as_str(),
            relative(platform, matched.as_str()),
            relative(platform, &full_path),
        );
        (
            dice.roll(faults),
            authenticate(req.headers(), gate.auth, credentials),
        )
    };
    if !roll.latency.is_zero() {
        tokio::time::sleep(roll.latency).await;
    }
    let now = Instant::now();
    let lost_answer = roll.fault == Some(Fault::LostAnswer);
    if let Some(fault) = roll.fault.filter(|_| !lost_answer) {
        return injected(&gate.shared, platform, fault, authed == Credentials::Valid, now);
    }
    if authed != Credentials::Valid {
        gate.shared.edge(platform).stats.unauthorized += 1;
        let refusal = Refusal::Unauthorized {
            given: authed == Credentials::Wrong,
        };
        return render(platform, refusal, None);
    }
    if gate.auth == Auth::TalentLmsKey && !version_ok(req.headers()) {
        let budget = Budget::peek(&mut gate.shared.edge(platform).limiter, now);
        return render(platform, Refusal::BadVersion, Some(budget));
    }
    let budget = {
        let mut edge = gate.shared.edge(platform);
        match edge.limiter.admit(now) {
            Ok(headers) => Budget::of(&mut edge.limiter, headers, now),
            Err(headers) => {
                edge.stats.rate_limited += 1;
                let budget = Budget::of(&mut edge.limiter, headers, now);
                drop(edge);
                let refusal = Refusal::Throttled {
                    wait: Some(budget.retry_secs()),
                };
                return render(platform, refusal, Some(budget));
            }
        }
    };
    let mut response = next.run(req).await;
    if lost_answer {
        // Done, but the client never hears of it.
        return injected(&gate.shared, platform, Fault::LostAnswer, false, now);
    }
    apply_headers(platform, response.headers_mut(), &budget, false);
    response
}

fn injected(shared: &Shared, platform: Platform, fault: Fault, authed: bool, now: Instant) -> Response {
    let mut edge = shared.edge(platform);
    // A faulted answer still carries the budget headers a real one would, when the caller is
    // known, but spends nothing.
    let budget = authed.then(|| Budget::peek(&mut edge.limiter, now));
    match fault {
        Fault::Drop | Fault::LostAnswer => {
            if fault == Fault::LostAnswer {
                edge.stats.injected_lost_answers += 1;
            } else {
                edge.stats.injected_drops += 1;
            }
            let mut response = Response::new(Body::empty());
            response.extensions_mut().insert(DropConnection);
            response
        }
        Fault::TooManyRequests => {
            edge.stats.injected_429 += 1;
            drop(edge);
            let refusal = Refusal::Throttled {
                wait: budget.map(|b| b.retry_secs()),
            };
            render(platform, refusal, budget)
        }
        Fault::Server(status) => {
            edge.stats.injected_5xx += 1;
            drop(edge);
            render(platform, Refusal::Server(status), budget)
        }
    }
}

fn render(platform: Platform, refusal: Refusal, budget: Option<Budget>) -> Response {
    let mut response = match platform {
        Platform::Skilljar => skilljar::refusal(refusal),
        Platform::TalentLms => talentlms::refusal(refusal),
        Platform::Trainual => trainual::refusal(refusal),
    };
    let throttled = matches!(refusal, Refusal::Throttled { .. });
    let headers = response.headers_mut();
    match budget {
        Some(budget) => apply_headers(platform, headers, &budget, throttled),
        // An injected 429 for a caller without valid credentials: still say when to come back.
        None if throttled => set(headers, "retry-after", "1".into()),
        None => {}
    }
    response
}

/// Each platform's rate headers. TalentLMS documents `X-RateLimit-Limit` / `-Remaining`, the
/// names Laravel's throttle middleware writes, so a 429 also gets Laravel's `Retry-After` and
/// `X-RateLimit-Reset`. Skilljar (Django REST framework) and Trainual document none: they get only
/// `Retry-After` on a 429, as DRF's throttling sends.
fn apply_headers(platform: Platform, headers: &mut HeaderMap, budget: &Budget, throttled: bool) {
    let retry_secs = budget.retry_secs();
    if platform == Platform::TalentLms {
        let remaining = budget.headers.remaining.min(budget.headers.daily_remaining);
        set(headers, "x-ratelimit-limit", budget.headers.max.to_string());
        set(headers, "x-ratelimit-remaining", remaining.to_string());
        if throttled {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            set(headers, "x-ratelimit-reset", (now + retry_secs).to_string());
        }
    }
    if throttled {
        set(headers, "retry-after", retry_secs.to_string());
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(name, value);
    }
}

/// The part of a full path after the platform's base (`/skilljar/v1/users` → `/users`).
fn relative(platform: Platform, path: &str) -> &str {
    path.strip_prefix(platform.base_path())
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(path)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credentials {
    Missing,
    Wrong,
    Valid,
}

fn authenticate(headers: &HeaderMap, auth: Auth, accepted: &[(String, String)]) -> Credentials {
    match auth {
        Auth::Basic => match basic(headers) {
            None if headers.contains_key(AUTHORIZATION) => Credentials::Wrong,
            None => Credentials::Missing,
            Some((user, password)) => {
                let known = accepted.iter().any(|(u, p)| *u == user && *p == password);
                if known {
                    Credentials::Valid
                } else {
                    Credentials::Wrong
                }
            }
        },
        Auth::TalentLmsKey => match headers.get("x-api-key").map(HeaderValue::as_bytes) {
            None => Credentials::Missing,
            Some(key) if accepted.iter().any(|(k, p)| p.is_empty() && k.as_bytes() == key) => {
                Credentials::Valid
            }
            Some(_) => Credentials::Wrong,
        },
    }
}

/// `Authorization: Basic base64(user:password)`, decoded.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// `YYYY-MM-DD`, a real date.
fn version_ok(headers: &HeaderMap) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    headers
        .get("x-api-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| time::Date::parse(v.trim(), format).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_decoded_and_compared() {
        let mut headers = HeaderMap::new();
        let accepted = vec![("key".to_owned(), String::new())];
        assert_eq!(
            authenticate(&headers, Auth::Basic, &accepted),
            Credentials::Missing
        );
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic a2V5Og=="));
        assert_eq!(authenticate(&headers, Auth::Basic, &accepted), Credentials::Valid);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic a2V5OnB3"));
        assert_eq!(authenticate(&headers, Auth::Basic, &accepted), Credentials::Wrong);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer key"));
        assert_eq!(authenticate(&headers, Auth::Basic, &accepted), Credentials::Wrong);
    }

    #[test]
    fn paths_are_made_relative_to_the_platform_base() {
        assert_eq!(
            relative(Platform::Skilljar, "/skilljar/v1/users/{user_id}"),
            "/users/{user_id}"
        );
        assert_eq!(
            relative(Platform::TalentLms, "/talentlms/api/v2/users"),
            "/api/v2/users"
        );
        assert_eq!(relative(Platform::Trainual, "/users"), "/users");
    }

    #[test]
    fn versions_are_dates() {
        let mut headers = HeaderMap::new();
        assert!(!version_ok(&headers));
        headers.insert("x-api-version", HeaderValue::from_static("2024-02-30"));
        assert!(!version_ok(&headers));
        headers.insert("x-api-version", HeaderValue::from_static("2025-01-01"));
        assert!(version_ok(&headers));
    }
}
