//! `ghl-sandbox`: the sandbox as a process, for local runs and benchmarks. Flags are parsed by
//! hand to keep the binary free of a CLI framework; every flag can also come from the
//! environment as `GHL_SANDBOX_<FLAG>` (e.g. `GHL_SANDBOX_RATE_MAX=20`), flags winning.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use ghl_sandbox::kit::{FlagSpec, Flags};
use ghl_sandbox::{
    ContactSeed, GrantSeed, LocationConfig, OAuthClientConfig, Sandbox, SandboxConfig, WebhookConfig,
    WebhookKey,
};

const USAGE: &str = "\
usage: ghl-sandbox [options]

  --port N                 port on 127.0.0.1 (default: any free port)
  --location ID            the location id (default ve9EPM428h8vShlRW1KT)
  --token PIT              a Private Integration Token for it; repeatable (default pit-local-demo-token)
  --rate-max N             requests per interval per location (default 100)
  --rate-interval-ms MS    the interval (default 10000)
  --daily-limit N          requests per day per location (default 200000)
  --fault-429 P            probability of an injected 429 (0..1, default 0)
  --fault-5xx P            probability of an injected 500/502/503
  --fault-drop P           probability of closing the connection without an answer
  --fault-lost-answer P    probability of carrying a request out, then closing without an answer
  --latency-ms MS|MIN-MAX  added latency, fixed or uniform
  --seed N                 seed for faults and generated ids
  --oauth-client ID:SECRET an OAuth client; repeatable
  --refresh-token TOKEN    a refresh token for the first OAuth client; repeatable
  --auth-code CODE         an authorization code for the first OAuth client; repeatable
  --token-ttl SECS         access token lifetime (default 86399)
  --contacts N             seed N demo contacts
  --no-custom-objects      the location's plan has no custom objects: every /objects,
                           /custom-fields and /associations request answers 401
  --quiet                  do not log requests
  --webhook-url URL        send GHL's webhooks (signed x-ghl-signature) to URL when contacts, tags,
                           tasks, notes or custom-object records change; needs --webhook-key-file
  --webhook-key-file PATH  the Ed25519 private key (PKCS#8 PEM) that signs them in place of GHL's

Every flag may also be set as GHL_SANDBOX_<FLAG> in the environment (comma-separated when repeatable).";

const FLAGS: [&str; 21] = [
    "port",
    "location",
    "token",
    "rate-max",
    "rate-interval-ms",
    "daily-limit",
    "fault-429",
    "fault-5xx",
    "fault-drop",
    "fault-lost-answer",
    "latency-ms",
    "seed",
    "oauth-client",
    "refresh-token",
    "auth-code",
    "token-ttl",
    "contacts",
    "no-custom-objects",
    "quiet",
    "webhook-url",
    "webhook-key-file",
];

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ghl-sandbox: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), String> {
    let Some(opts) = Flags::parse(&SPEC, std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(());
    };
    let config = config(&opts)?;
    let sandbox = Sandbox::start(config)
        .await
        .map_err(|e| format!("cannot start: {e}"))?;
    println!("ghl-sandbox listening on {}", sandbox.url());
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    sandbox.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

const SPEC: FlagSpec = FlagSpec {
    names: &FLAGS,
    switches: &["quiet", "no-custom-objects"],
    env_prefix: "GHL_SANDBOX_",
};

fn config(opts: &Flags) -> Result<SandboxConfig, String> {
    let mut config = SandboxConfig {
        log_requests: !opts.switch("quiet"),
        ..SandboxConfig::default()
    };
    config.port = opts.number("port")?;
    if let Some(seed) = opts.number("seed")? {
        config.seed = seed;
    }
    if let Some(max) = opts.number("rate-max")? {
        config.rate_limits.max = max;
    }
    if let Some(ms) = opts.number("rate-interval-ms")? {
        config.rate_limits.interval = Duration::from_millis(ms);
    }
    if let Some(daily) = opts.number("daily-limit")? {
        config.rate_limits.daily_limit = daily;
    }
    if let Some(secs) = opts.number("token-ttl")? {
        config.access_token_ttl = Duration::from_secs(secs);
    }
    config.faults = opts.faults("")?;
    for pair in opts.all("oauth-client") {
        let (id, secret) = pair
            .split_once(':')
            .ok_or_else(|| format!("--oauth-client: expected ID:SECRET, got {pair:?}"))?;
        config.oauth_clients.push(OAuthClientConfig {
            client_id: id.into(),
            client_secret: secret.into(),
            scope: OAuthClientConfig::DEFAULT_SCOPE.into(),
        });
    }
    let location = location(opts, &config)?;
    config.locations = vec![location];
    config.webhooks = webhooks(opts)?;
    Ok(config)
}

fn webhooks(opts: &Flags) -> Result<Option<WebhookConfig>, String> {
    match (opts.last("webhook-url"), opts.last("webhook-key-file")) {
        (None, None) => Ok(None),
        (Some(url), Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--webhook-key-file: cannot read {path}: {e}"))?;
            let key =
                WebhookKey::from_pkcs8_pem(&text).map_err(|e| format!("--webhook-key-file {path}: {e}"))?;
            Ok(Some(WebhookConfig::new(url, key)))
        }
        _ => Err("--webhook-url and --webhook-key-file go together".into()),
    }
}

fn location(opts: &Flags, config: &SandboxConfig) -> Result<LocationConfig, String> {
    let mut location = LocationConfig::new(opts.last("location").unwrap_or(ghl_sandbox::DEFAULT_LOCATION_ID));
    location.private_integration_tokens = match opts.all("token") {
        [] => vec![ghl_sandbox::DEFAULT_PIT.into()],
        tokens => tokens.to_vec(),
    };
    let grants = [opts.all("refresh-token"), opts.all("auth-code")];
    let client = config.oauth_clients.first().map(|c| c.client_id.as_str());
    if grants.iter().any(|g| !g.is_empty()) && client.is_none() {
        return Err("--refresh-token and --auth-code need an --oauth-client".into());
    }
    let client = client.unwrap_or_default();
    location.refresh_tokens = grants[0].iter().map(|t| GrantSeed::new(client, t)).collect();
    location.authorization_codes = grants[1].iter().map(|c| GrantSeed::new(client, c)).collect();
    location.custom_objects = !opts.switch("no-custom-objects");
    let demo: usize = opts.number("contacts")?.unwrap_or(0);
    location.contacts = (1..=demo)
        .map(|i| ContactSeed {
            first_name: Some(format!("Learner{i}")),
            last_name: Some("Demo".into()),
            email: Some(format!("learner{i}@example.com")),
            source: Some("ghl-sandbox demo".into()),
            ..ContactSeed::default()
        })
        .collect();
    Ok(location)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ghl_sandbox::Latency;

    fn parse(args: &[&str]) -> Flags {
        Flags::parse_with_env(&SPEC, args.iter().map(|s| s.to_string()), |_| None)
            .unwrap()
            .unwrap()
    }

    fn build(args: &[&str]) -> SandboxConfig {
        config(&parse(args)).unwrap()
    }

    #[test]
    fn flags_build_the_config() {
        let c = build(&[
            "--port=0",
            "--rate-max",
            "20",
            "--rate-interval-ms",
            "500",
            "--fault-5xx",
            "0.1",
            "--latency-ms",
            "5-15",
            "--oauth-client",
            "cid:secret",
            "--refresh-token",
            "rt-1",
            "--quiet",
        ]);
        assert_eq!(c.rate_limits.max, 20);
        assert_eq!(c.rate_limits.interval, Duration::from_millis(500));
        assert_eq!(c.faults.rate_5xx, 0.1);
        assert_eq!(
            c.faults.latency,
            Latency::Uniform(Duration::from_millis(5), Duration::from_millis(15))
        );
        assert_eq!(c.locations[0].refresh_tokens, vec![GrantSeed::new("cid", "rt-1")]);
        assert!(!c.log_requests);
        assert!(c.locations[0].custom_objects);
        assert!(!build(&["--no-custom-objects"]).locations[0].custom_objects);
    }

    #[test]
    fn grants_without_a_client_are_refused() {
        assert!(config(&parse(&["--refresh-token", "x"])).is_err());
    }

    #[test]
    fn webhooks_need_a_url_and_a_key() {
        let key = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/local/ghl-webhook-test-key.pem"
        );
        let c = build(&[
            "--webhook-url",
            "http://127.0.0.1:9/ghl-events/ghl",
            "--webhook-key-file",
            key,
        ]);
        let webhooks = c.webhooks.unwrap();
        assert_eq!(webhooks.url, "http://127.0.0.1:9/ghl-events/ghl");
        assert_eq!(
            webhooks.key.public_key(),
            "MCowBQYDK2VwAyEAh0WT6UwFa27LwAECR1aX7KZgG3u+MikUzEd60irPlpc="
        );
        for args in [
            &["--webhook-url", "http://x"][..],
            &["--webhook-key-file", key][..],
        ] {
            assert!(config(&parse(args)).is_err());
        }
    }
}
