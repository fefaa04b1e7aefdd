//! `lms-sandbox`: the three LMS stand-ins as one process, for `scripts/run` and manual runs.
//! Flags are parsed by the GHL sandbox's parser (`ghl_sandbox::kit::Flags`): `--name value` or
//! `--name=value`, and every flag also from the environment as `LMS_SANDBOX_<FLAG>`
//! (`LMS_SANDBOX_TALENTLMS_RATE_MAX=20`), flags winning.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use ghl_sandbox::kit::{FlagSpec, Flags};
use lms_sandbox::{FaultConfig, LongWindow, Platform, Sandbox, SandboxConfig};

const USAGE: &str = "\
usage: lms-sandbox [options]

Serves Skilljar under /skilljar/v1, TalentLMS under /talentlms/api/v2 and /talentlms/api/v1,
Trainual under /trainual/v1, on one port of 127.0.0.1.

  --port N                       port (default: any free port)
  --seed N                       seed for faults and generated ids
  --demo-users N                 seed N demo learners (learnerI@example.com) on each platform
  --quiet                        do not log requests

  --skilljar-api-key KEY         an accepted API key; repeatable (default sk-local-demo-key)
  --talentlms-api-key KEY        an accepted API key; repeatable (default tl-local-demo-key)
  --trainual-credentials U:P     accepted Basic credentials; repeatable
                                 (default trainual-local@example.com:tr-local-demo-password)

Per platform, P one of skilljar, talentlms, trainual:
  --P-rate-max N                 requests per sliding interval (600 / 200 / 20)
  --P-rate-interval-ms MS        the interval (60000 / 5000 / 1000)
  --P-hourly-limit N             a fixed hourly limit, 0 for none (5000 / 2000 / none)
  --P-fault-429 P, --P-fault-5xx P, --P-fault-drop P, --P-fault-lost-answer P, --P-latency-ms MS|MIN-MAX

Faults for every platform (a platform's own flag wins):
  --fault-429 P                  probability of an injected 429 (0..1)
  --fault-5xx P                  probability of an injected 500/502/503
  --fault-drop P                 probability of closing the connection without an answer
  --fault-lost-answer P          probability of carrying a request out, then closing without an answer
  --latency-ms MS|MIN-MAX        added latency, fixed or uniform

Every flag may also be set as LMS_SANDBOX_<FLAG> in the environment (comma-separated when repeatable).";

const FLAGS: [&str; 39] = [
    "port",
    "seed",
    "demo-users",
    "quiet",
    "skilljar-api-key",
    "talentlms-api-key",
    "trainual-credentials",
    "fault-429",
    "fault-5xx",
    "fault-drop",
    "fault-lost-answer",
    "latency-ms",
    "skilljar-rate-max",
    "skilljar-rate-interval-ms",
    "skilljar-hourly-limit",
    "skilljar-fault-429",
    "skilljar-fault-5xx",
    "skilljar-fault-drop",
    "skilljar-fault-lost-answer",
    "skilljar-latency-ms",
    "talentlms-rate-max",
    "talentlms-rate-interval-ms",
    "talentlms-hourly-limit",
    "talentlms-fault-429",
    "talentlms-fault-5xx",
    "talentlms-fault-drop",
    "talentlms-fault-lost-answer",
    "talentlms-latency-ms",
    "trainual-rate-max",
    "trainual-rate-interval-ms",
    "trainual-hourly-limit",
    "trainual-fault-429",
    "trainual-fault-5xx",
    "trainual-fault-drop",
    "trainual-fault-lost-answer",
    "trainual-latency-ms",
    // For every platform at once (a platform's own flag wins), as the GHL sandbox names them.
    "rate-max",
    "rate-interval-ms",
    "hourly-limit",
];

const SPEC: FlagSpec = FlagSpec {
    names: &FLAGS,
    switches: &["quiet"],
    env_prefix: "LMS_SANDBOX_",
};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lms-sandbox: {e}");
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
    seed_demo_users(&sandbox, opts.number("demo-users")?.unwrap_or(0))?;
    println!("lms-sandbox listening on {}", sandbox.url());
    for platform in Platform::ALL {
        println!("  {platform:<9} {}", sandbox.base_url(platform));
    }
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

fn config(opts: &Flags) -> Result<SandboxConfig, String> {
    let mut config = SandboxConfig {
        log_requests: !opts.switch("quiet"),
        ..SandboxConfig::default()
    };
    config.port = opts.number("port")?;
    if let Some(seed) = opts.number("seed")? {
        config.seed = seed;
    }
    if let keys @ [_, ..] = opts.all("skilljar-api-key") {
        config.skilljar.api_keys = keys.to_vec();
    }
    if let keys @ [_, ..] = opts.all("talentlms-api-key") {
        config.talentlms.api_keys = keys.to_vec();
    }
    if let pairs @ [_, ..] = opts.all("trainual-credentials") {
        config.trainual.credentials = pairs
            .iter()
            .map(|pair| {
                pair.split_once(':')
                    .map(|(u, p)| (u.to_owned(), p.to_owned()))
                    .ok_or_else(|| "--trainual-credentials: expected USER:PASSWORD".to_owned())
            })
            .collect::<Result<_, _>>()?;
    }
    let shared_faults = opts.faults("")?;
    for platform in Platform::ALL {
        let prefix = format!("{}-", platform.slug());
        let limit = config.rate_limit_mut(platform);
        let number = |name: &str| opts.number::<u64>(&format!("{prefix}{name}"));
        let shared_number = |name: &str| opts.number::<u64>(name);
        if let Some(max) = number("rate-max")?.or(shared_number("rate-max")?) {
            limit.max = u32::try_from(max).map_err(|_| format!("--{prefix}rate-max is too large"))?;
        }
        if let Some(ms) = number("rate-interval-ms")?.or(shared_number("rate-interval-ms")?) {
            limit.interval = Duration::from_millis(ms);
        }
        match number("hourly-limit")?.or(shared_number("hourly-limit")?) {
            Some(0) => limit.long = None,
            Some(n) => {
                limit.long = Some(LongWindow {
                    limit: n,
                    window: Duration::from_secs(3_600),
                })
            }
            None => {}
        }
        *config.faults_mut(platform) = merge_faults(opts, &prefix, &shared_faults)?;
    }
    Ok(config)
}

/// The platform's own fault flags where given, the shared ones elsewhere.
fn merge_faults(opts: &Flags, prefix: &str, shared: &FaultConfig) -> Result<FaultConfig, String> {
    let own = opts.faults(prefix)?;
    let given = |name: &str| opts.last(&format!("{prefix}{name}")).is_some();
    Ok(FaultConfig {
        rate_429: if given("fault-429") {
            own.rate_429
        } else {
            shared.rate_429
        },
        rate_5xx: if given("fault-5xx") {
            own.rate_5xx
        } else {
            shared.rate_5xx
        },
        rate_drop: if given("fault-drop") {
            own.rate_drop
        } else {
            shared.rate_drop
        },
        rate_lost_answer: if given("fault-lost-answer") {
            own.rate_lost_answer
        } else {
            shared.rate_lost_answer
        },
        latency: if given("latency-ms") {
            own.latency
        } else {
            shared.latency.clone()
        },
    })
}

fn seed_demo_users(sandbox: &Sandbox, count: usize) -> Result<(), String> {
    for i in 1..=count {
        let email = format!("learner{i}@example.com");
        let first = format!("Learner{i}");
        sandbox
            .seed_skilljar_user(lms_sandbox::DEFAULT_SKILLJAR_DOMAIN, &email, &first, "Demo")
            .and_then(|_| sandbox.seed_talentlms_user(&email, &first, "Demo"))
            .and_then(|_| sandbox.seed_trainual_user(&email, &format!("{first} Demo")))
            .map_err(|e| format!("--demo-users: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lms_sandbox::Latency;

    fn build(args: &[&str]) -> SandboxConfig {
        let flags = Flags::parse_with_env(&SPEC, args.iter().map(|s| s.to_string()), |_| None)
            .unwrap()
            .unwrap();
        config(&flags).unwrap()
    }

    #[test]
    fn flags_build_the_config() {
        let c = build(&[
            "--port=0",
            "--talentlms-rate-max",
            "5",
            "--talentlms-rate-interval-ms",
            "500",
            "--skilljar-hourly-limit",
            "0",
            "--fault-5xx",
            "0.1",
            "--trainual-fault-5xx",
            "0.5",
            "--latency-ms",
            "5-15",
            "--trainual-credentials",
            "a@b.io:pw",
            "--quiet",
        ]);
        assert_eq!(c.talentlms.rate_limit.max, 5);
        assert_eq!(c.talentlms.rate_limit.interval, Duration::from_millis(500));
        assert!(c.talentlms.rate_limit.long.is_some());
        assert!(c.skilljar.rate_limit.long.is_none());
        assert_eq!(c.skilljar.faults.rate_5xx, 0.1);
        assert_eq!(c.trainual.faults.rate_5xx, 0.5);
        assert_eq!(
            c.trainual.faults.latency,
            Latency::Uniform(Duration::from_millis(5), Duration::from_millis(15))
        );
        assert_eq!(
            c.trainual.credentials,
            vec![("a@b.io".to_owned(), "pw".to_owned())]
        );
        assert!(!c.log_requests);
    }

    #[test]
    fn bad_credentials_flags_are_refused() {
        let flags = Flags::parse_with_env(
            &SPEC,
            ["--trainual-credentials".to_string(), "nocolon".to_string()],
            |_| None,
        )
        .unwrap()
        .unwrap();
        assert!(config(&flags).is_err());
    }
}
