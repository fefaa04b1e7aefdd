//! A fault-injecting proxy in front of moto, for the chaos run: AWS calls meet the same seeded
//! fault dice as the GHL and LMS sandboxes' requests (`ghl_sandbox::kit`). A throttle is answered
//! 400 `ThrottlingException`, a server error 500/502/503, a drop closes the connection before the
//! request reaches moto, and a lost answer closes it after moto carried the request out (a
//! conditional write that succeeded but whose answer never came, say). The AWS SDK retries all of
//! these a few times on its own; what gets through is the code's to handle.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::response::Response;
use ghl_sandbox::FaultConfig;
use ghl_sandbox::kit::{Dice, Dropped, Fault};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use tokio::net::TcpListener;

/// What the proxy did, for the run's report.
#[derive(Debug, Default)]
pub struct AwsFaultStats {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    pub dropped: AtomicU64,
    pub lost_answers: AtomicU64,
}

pub struct AwsFaults {
    /// Where to point `AWS_ENDPOINT_URL` instead of moto.
    pub url: String,
    pub stats: Arc<AwsFaultStats>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl AwsFaults {
    /// Listens on a free loopback port and forwards to `target` (moto's URL).
    pub async fn start(target: &str, faults: FaultConfig, seed: u64) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let stats = Arc::new(AwsFaultStats::default());
        let edge = Edge {
            target: target.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            dice: Arc::new(Mutex::new(Dice::new(seed))),
            faults,
            stats: stats.clone(),
        };
        let (stop, _task) = ghl_sandbox::kit::serve(listener, edge);
        Ok(Self {
            url,
            stats,
            _stop: stop,
        })
    }
}

#[derive(Clone)]
struct Edge {
    target: String,
    http: reqwest::Client,
    dice: Arc<Mutex<Dice>>,
    faults: FaultConfig,
    stats: Arc<AwsFaultStats>,
}

/// An AWS JSON-protocol error answer, as DynamoDB, SQS and Secrets Manager send them.
fn aws_error(status: StatusCode, kind: &str) -> Response {
    let mut response = Response::new(Body::from(
        serde_json::json!({"__type": kind, "message": "injected by the chaos run"}).to_string(),
    ));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

impl hyper::service::Service<Request<Incoming>> for Edge {
    type Response = Response;
    type Error = Dropped;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Dropped>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let edge = self.clone();
        Box::pin(async move {
            edge.stats.requests.fetch_add(1, Ordering::Relaxed);
            let roll = edge
                .dice
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .roll(&edge.faults);
            match roll.fault {
                Some(Fault::Drop) => {
                    edge.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    return Err(Dropped);
                }
                Some(Fault::TooManyRequests) => {
                    edge.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    return Ok(aws_error(StatusCode::BAD_REQUEST, "ThrottlingException"));
                }
                Some(Fault::Server(status)) => {
                    edge.stats.server_errors.fetch_add(1, Ordering::Relaxed);
                    return Ok(aws_error(status, "InternalFailure"));
                }
                Some(Fault::LostAnswer) | None => {}
            }
            let answer = edge.forward(req).await;
            if roll.fault == Some(Fault::LostAnswer) {
                edge.stats.lost_answers.fetch_add(1, Ordering::Relaxed);
                return Err(Dropped);
            }
            Ok(answer.unwrap_or_else(|e| aws_error(StatusCode::BAD_GATEWAY, &format!("ProxyError: {e}"))))
        })
    }
}

impl Edge {
    async fn forward(&self, req: Request<Incoming>) -> Result<Response, String> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(Body::new(body), usize::MAX)
            .await
            .map_err(|e| e.to_string())?;
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = self.http.request(parts.method, format!("{}{path}", self.target));
        for (name, value) in &parts.headers {
            if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
                request = request.header(name, value);
            }
        }
        let answer = request.body(body).send().await.map_err(|e| e.to_string())?;
        let mut response = Response::new(Body::empty());
        *response.status_mut() = answer.status();
        // Hop-by-hop headers stay on moto's side: its `connection: close` would otherwise make
        // every client open a new connection per call, which AWS's endpoints do not ask for.
        for (name, value) in answer.headers() {
            if name != http::header::TRANSFER_ENCODING
                && name != http::header::CONTENT_LENGTH
                && name != http::header::CONNECTION
            {
                response.headers_mut().append(name, value.clone());
            }
        }
        *response.body_mut() = Body::from(answer.bytes().await.map_err(|e| e.to_string())?);
        Ok(response)
    }
}
