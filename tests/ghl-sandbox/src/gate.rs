//! What happens to a request before its handler: counting, injected faults, the `Version` and
//! bearer checks, and the rate limiter. Order matters and mirrors what a client sees from GHL's
//! edge: a fault can hit any request (even an unauthenticated one), and only authenticated,
//! well-formed requests spend the location's budget.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::faults::Fault;
use crate::limits::RateHeaders;
use crate::server::{DropConnection, Shared};

pub(crate) const API_VERSION: &str = "2021-07-28";

/// The location the request's token acts for, for handlers to scope their work.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) location_id: String,
}

/// For every resource route (everything but `/oauth/token`).
pub(crate) async fn resource(
    State(shared): State<Arc<Shared>>,
    matched: MatchedPath,
    mut req: Request,
    next: Next,
) -> Response {
    shared.count(|s| s.count_route(req.method().as_str(), matched.as_str()));
    let roll = shared.roll(false, req.method().as_str(), matched.as_str());
    if !roll.latency.is_zero() {
        tokio::time::sleep(roll.latency).await;
    }
    let now = Instant::now();
    let lost_answer = roll.fault == Some(Fault::LostAnswer);
    if let Some(fault) = roll.fault.filter(|_| !lost_answer) {
        // A faulted answer still looks like GHL's, budget headers included when the token is
        // good, but it neither spends the budget nor touches state.
        let headers = peek_headers(&shared, req.headers(), now);
        return injected(&shared, fault, headers);
    }
    let (caller, headers) = match admit(&shared, req.headers(), now) {
        Ok(admitted) => admitted,
        Err(refusal) => return *refusal,
    };
    req.extensions_mut().insert(caller);
    let answer = next.run(req).await;
    if lost_answer {
        // Done, but the client never hears of it.
        return injected(&shared, Fault::LostAnswer, None);
    }
    with_headers(answer, Some(headers))
}

/// For `POST /oauth/token`: counted and faultable, but outside the rate limit like GHL's.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    shared.count(|s| s.count_route(req.method().as_str(), matched.as_str()));
    let roll = shared.roll(true, req.method().as_str(), matched.as_str());
    if !roll.latency.is_zero() {
        tokio::time::sleep(roll.latency).await;
    }
    match roll.fault {
        Some(fault) => injected(&shared, fault, None),
        None => next.run(req).await,
    }
}

fn injected(shared: &Shared, fault: Fault, headers: Option<RateHeaders>) -> Response {
    match fault {
        Fault::Drop | Fault::LostAnswer => {
            shared.count(|s| {
                if fault == Fault::LostAnswer {
                    s.injected_lost_answers += 1;
                } else {
                    s.injected_drops += 1;
                }
            });
            let mut response = Response::new(Body::empty());
            response.extensions_mut().insert(DropConnection);
            response
        }
        Fault::TooManyRequests => {
            shared.count(|s| s.injected_429 += 1);
            with_headers(ApiError::TooManyRequests.into_response(), headers)
        }
        Fault::Server(status) => {
            shared.count(|s| s.injected_5xx += 1);
            ApiError::Injected(status).into_response()
        }
    }
}

/// `Err` is the finished refusal: 400, 401 or the limiter's 429.
fn admit(shared: &Shared, headers: &HeaderMap, now: Instant) -> Result<(Caller, RateHeaders), Box<Response>> {
    let mut state = shared.state();
    let location = bearer(headers)
        .ok_or(ApiError::Unauthorized("Invalid JWT"))
        .and_then(|token| state.authenticate(token, now).map(str::to_owned));
    let version_ok = headers
        .get("version")
        .is_some_and(|v| v.as_bytes() == API_VERSION.as_bytes());
    if !version_ok {
        let rate = location
            .ok()
            .and_then(|id| state.locations.get_mut(&id).map(|loc| loc.limiter.peek(now)));
        let message = format!("Version header is missing or invalid: send `Version: {API_VERSION}`");
        return Err(Box::new(with_headers(
            ApiError::BadRequest(message).into_response(),
            rate,
        )));
    }
    let location_id = location.map_err(|e| Box::new(e.into_response()))?;
    let limiter = match state.locations.get_mut(&location_id) {
        Some(loc) => &mut loc.limiter,
        None => return Err(Box::new(ApiError::Unauthorized("Invalid JWT").into_response())),
    };
    match limiter.admit(now) {
        Ok(rate) => Ok((Caller { location_id }, rate)),
        Err(rate) => {
            drop(state);
            shared.count(|s| s.rate_limited += 1);
            Err(Box::new(with_headers(
                ApiError::TooManyRequests.into_response(),
                Some(rate),
            )))
        }
    }
}

fn peek_headers(shared: &Shared, headers: &HeaderMap, now: Instant) -> Option<RateHeaders> {
    let mut state = shared.state();
    let location_id = state.authenticate(bearer(headers)?, now).ok()?.to_owned();
    state
        .locations
        .get_mut(&location_id)
        .map(|loc| loc.limiter.peek(now))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn with_headers(mut response: Response, headers: Option<RateHeaders>) -> Response {
    if let Some(headers) = headers {
        headers.apply(response.headers_mut());
    }
    response
}
