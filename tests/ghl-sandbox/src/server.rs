//! The accept loop and the connection-level service. The service sits in front of the axum
//! router because dropping a connection is something a router cannot express: a handler marks
//! its answer with `DropConnection`, and this layer turns that into a service error, on which
//! hyper closes the socket without writing a byte.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use http::{Request, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::FaultConfig;
use crate::faults::{Dice, Fault, Roll};
use crate::state::State;
use crate::stats::Stats;
use crate::webhooks::Outbox;

/// What every request handler shares.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) stats: Mutex<Stats>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) access_token_ttl: Duration,
    /// `http://127.0.0.1:PORT`, for `nextPageUrl`.
    pub(crate) base_url: String,
    pub(crate) log_requests: bool,
    /// Changes to announce as GHL's webhooks (a no-op when they are off).
    pub(crate) webhooks: Outbox,
}

pub(crate) struct Faults {
    pub(crate) dice: Dice,
    pub(crate) resource: FaultConfig,
    pub(crate) token: FaultConfig,
    /// One-shot faults for the next request matching (method, route), before the dice.
    pub(crate) scripted: Vec<(String, String, Fault)>,
}

/// A poisoned lock only means another request panicked mid-update; the data is still the best
/// there is, and refusing every later request would hide the original failure.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn count(&self, bump: impl FnOnce(&mut Stats)) {
        bump(&mut lock(&self.stats));
    }

    pub(crate) fn roll(&self, token_endpoint: bool, method: &str, route: &str) -> Roll {
        let mut faults = lock(&self.faults);
        let Faults {
            dice,
            resource,
            token,
            scripted,
        } = &mut *faults;
        // The dice roll anyway, so that a scripted fault does not shift the seeded ones.
        let rolled = dice.roll(if token_endpoint { token } else { resource });
        match scripted.iter().position(|(m, r, _)| m == method && r == route) {
            Some(i) => Roll {
                latency: rolled.latency,
                fault: Some(scripted.remove(i).2),
            },
            None => rolled,
        }
    }
}

/// Marks an answer that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// The connection service's error for a `DropConnection` answer; hyper then closes the socket.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
pub struct Dropped;

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
            normalise_path(&mut req);
            shared.count(|s| s.total_requests += 1);
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            let response = match tower_service::Service::call(&mut router, req).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let dropped = response.extensions().get::<DropConnection>().is_some();
            if shared.log_requests {
                let status = response.status();
                let outcome = if dropped {
                    "DROPPED".to_owned()
                } else {
                    status.as_u16().to_string()
                };
                println!("{method} {path} {outcome}");
            }
            if dropped { Err(Dropped) } else { Ok(response) }
        })
    }
}

/// GHL answers `/contacts` and `/contacts/` alike; the router knows only the spec's form.
fn normalise_path(req: &mut Request<Incoming>) {
    if req.uri().path() != "/contacts" {
        return;
    }
    let target = match req.uri().query() {
        Some(query) => format!("/contacts/?{query}"),
        None => "/contacts/".to_owned(),
    };
    if let Ok(uri) = target.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
}

/// Serves until the sender fires (or is dropped), then aborts open connections. Generic over the
/// connection service so that other sandboxes can put their own edge in front of their router.
pub fn spawn<S>(listener: TcpListener, edge: S) -> (oneshot::Sender<()>, JoinHandle<()>)
where
    S: hyper::service::Service<Request<Incoming>, Response = Response, Error = Dropped>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut connections: JoinSet<()> = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let service = edge.clone();
                        connections.spawn(async move {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
    });
    (stop_tx, task)
}
