//! What every request shares, and the connection-level service in front of the router. The
//! service sits outside axum because closing a connection without an answer (an injected drop)
//! is something a router cannot express: the gate marks such an answer with `DropConnection`, and
//! this layer turns it into a service error, on which hyper closes the socket without a byte.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use ghl_sandbox::RateLimitConfig;
use ghl_sandbox::kit::{Dice, DropConnection, Dropped, Limiter};
use http::Request;
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::config::{FaultConfig, Platform, RateLimit, SandboxConfig};
use crate::stats::PlatformStats;
use crate::{skilljar, talentlms, trainual};

pub(crate) struct Shared {
    /// `http://127.0.0.1:PORT`, for the absolute paging links the platforms answer with.
    pub(crate) base_url: String,
    pub(crate) log_requests: bool,
    edges: [Mutex<EdgeState>; 3],
    skilljar: Mutex<skilljar::State>,
    talentlms: Mutex<talentlms::State>,
    trainual: Mutex<trainual::State>,
}

/// One platform's edge: who may call, how fast, and what goes wrong on purpose.
pub(crate) struct EdgeState {
    pub(crate) limiter: Limiter,
    pub(crate) dice: Dice,
    pub(crate) faults: FaultConfig,
    pub(crate) stats: PlatformStats,
    /// HTTP Basic (user name, password) pairs; API keys are user names with an empty password.
    pub(crate) credentials: Vec<(String, String)>,
}

/// A poisoned lock only means another request panicked mid-update; the data is still the best
/// there is, and refusing every later request would hide the original failure.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// No long window configured: one that never fills within a test's lifetime.
const FOREVER: Duration = Duration::from_secs(10 * 365 * 24 * 3_600);

pub(crate) fn limiter(limit: &RateLimit, start: Instant) -> Limiter {
    let (daily_limit, daily_window) = match limit.long {
        Some(long) => (long.limit, long.window),
        None => (u64::MAX, FOREVER),
    };
    let config = RateLimitConfig {
        max: limit.max,
        interval: limit.interval,
        daily_limit,
        daily_window,
    };
    Limiter::new(config, start)
}

impl Shared {
    pub(crate) fn new(config: &SandboxConfig, base_url: String, start: Instant) -> Self {
        let edge =
            |platform: Platform, limit: &RateLimit, faults: &FaultConfig, creds: Vec<(String, String)>| {
                // Each platform rolls its own dice so that its faults do not depend on how much the
                // other platforms were called.
                let seed =
                    config.seed ^ (0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(platform.index() as u64 + 1));
                Mutex::new(EdgeState {
                    limiter: limiter(limit, start),
                    dice: Dice::new(seed),
                    faults: faults.clone(),
                    stats: PlatformStats::default(),
                    credentials: creds,
                })
            };
        let keys = |keys: &[String]| keys.iter().map(|k| (k.clone(), String::new())).collect();
        Self {
            base_url,
            log_requests: config.log_requests,
            edges: [
                edge(
                    Platform::Skilljar,
                    &config.skilljar.rate_limit,
                    &config.skilljar.faults,
                    keys(&config.skilljar.api_keys),
                ),
                edge(
                    Platform::TalentLms,
                    &config.talentlms.rate_limit,
                    &config.talentlms.faults,
                    keys(&config.talentlms.api_keys),
                ),
                edge(
                    Platform::Trainual,
                    &config.trainual.rate_limit,
                    &config.trainual.faults,
                    config.trainual.credentials.clone(),
                ),
            ],
            skilljar: Mutex::new(skilljar::State::new(&config.skilljar, config.seed)),
            talentlms: Mutex::new(talentlms::State::new(&config.talentlms)),
            trainual: Mutex::new(trainual::State::new(&config.trainual)),
        }
    }

    pub(crate) fn edge(&self, platform: Platform) -> MutexGuard<'_, EdgeState> {
        lock(&self.edges[platform.index()])
    }

    pub(crate) fn skilljar(&self) -> MutexGuard<'_, skilljar::State> {
        lock(&self.skilljar)
    }

    pub(crate) fn talentlms(&self) -> MutexGuard<'_, talentlms::State> {
        lock(&self.talentlms)
    }

    pub(crate) fn trainual(&self) -> MutexGuard<'_, trainual::State> {
        lock(&self.trainual)
    }

    /// The platform's base URL as a client configures it.
    pub(crate) fn platform_url(&self, platform: Platform) -> String {
        format!("{}{}", self.base_url, platform.base_path())
    }
}

/// The request's path as the client sent it, prefix included: nested routers see it stripped,
/// and paging links and stats need it whole.
#[derive(Debug, Clone)]
pub(crate) struct FullPath(pub(crate) String);

#[derive(Clone)]
pub(crate) struct Edge {
    pub(crate) router: Router,
    pub(crate) shared: Arc<Shared>,
}

impl hyper::service::Service<Request<Incoming>> for Edge {
    type Response = Response;
    type Error = Dropped;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Dropped>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let mut router = self.router.clone();
        let shared = self.shared.clone();
        Box::pin(async move {
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            req.extensions_mut().insert(FullPath(path.clone()));
            if let Some(platform) = Platform::of_path(&path) {
                shared.edge(platform).stats.total_requests += 1;
            }
            let response = match tower_service::Service::call(&mut router, req).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let dropped = response.extensions().get::<DropConnection>().is_some();
            if shared.log_requests {
                let outcome = if dropped {
                    "DROPPED".to_owned()
                } else {
                    response.status().as_u16().to_string()
                };
                // The GHL sandbox's line format, which scripts/run greps; the path keeps its
                // platform prefix so one log tells the platforms apart.
                println!("{method} {path} {outcome}");
            }
            if dropped { Err(Dropped) } else { Ok(response) }
        })
    }
}
