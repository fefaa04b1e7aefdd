use lms_sandbox::{
    DEFAULT_SKILLJAR_API_KEY, DEFAULT_TALENTLMS_API_KEY, DEFAULT_TRAINUAL_PASSWORD,
    DEFAULT_TRAINUAL_USERNAME, Platform, Sandbox, SandboxConfig,
};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub async fn start(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("sandbox starts")
}

#[derive(Clone)]
pub enum Auth {
    None,
    Basic(String, String),
    /// `X-API-Key`, and `X-API-Version` when given.
    Key(String, Option<String>),
}

/// A bare-bones client of one platform: its base URL, its credentials, JSON or form bodies.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub auth: Auth,
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub enum Body {
    Json(Value),
    Form(Vec<(String, String)>),
}

impl Client {
    pub fn skilljar(sandbox: &Sandbox) -> Self {
        Self::new(
            sandbox,
            Platform::Skilljar,
            Auth::Basic(DEFAULT_SKILLJAR_API_KEY.into(), String::new()),
        )
    }

    /// v2: `X-API-Key` and a version; paths start with `/api/v2`.
    pub fn talentlms(sandbox: &Sandbox) -> Self {
        let auth = Auth::Key(DEFAULT_TALENTLMS_API_KEY.into(), Some("2025-01-01".into()));
        Self::new(sandbox, Platform::TalentLms, auth)
    }

    /// v1: Basic with the key; paths start with `/api/v1`.
    pub fn talentlms_v1(sandbox: &Sandbox) -> Self {
        let auth = Auth::Basic(DEFAULT_TALENTLMS_API_KEY.into(), String::new());
        Self::new(sandbox, Platform::TalentLms, auth)
    }

    pub fn trainual(sandbox: &Sandbox) -> Self {
        let auth = Auth::Basic(DEFAULT_TRAINUAL_USERNAME.into(), DEFAULT_TRAINUAL_PASSWORD.into());
        Self::new(sandbox, Platform::Trainual, auth)
    }

    pub fn new(sandbox: &Sandbox, platform: Platform, auth: Auth) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: sandbox.base_url(platform),
            auth,
        }
    }

    pub fn with_auth(&self, auth: Auth) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            auth,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(Body::Json(body))).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(Body::Json(body))).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(Body::Json(body))).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let fields = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.send(Method::POST, path, Some(Body::Form(fields))).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Body>) -> Answer {
        self.try_send(method, path, body).await.expect("request failed")
    }

    pub async fn try_send(&self, method: Method, path: &str, body: Option<Body>) -> reqwest::Result<Answer> {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self.http.request(method, url);
        request = match &self.auth {
            Auth::None => request,
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
            Auth::Key(key, version) => {
                let request = request
                    .header("X-API-Key", key)
                    .header("Accept", "application/json");
                match version {
                    Some(version) => request.header("X-API-Version", version),
                    None => request,
                }
            }
        };
        request = match body {
            Some(Body::Json(body)) => request.json(&body),
            Some(Body::Form(fields)) => request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(&fields).expect("form encodes")),
            None => request,
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
            text,
        })
    }
}
