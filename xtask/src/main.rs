//! The project's dev tooling (`cargo xtask <command>`, or the built binary in `scripts/run`).
//!
//! It reuses what the integration harness and the library already define instead of describing
//! the deployment a second time: `devkit` provisions the resources and shapes queue messages and
//! API Gateway events, `lms_ghl` parses the webhook secret and signs, `aws_lambda_events` types
//! every event. A change to the key schema or the signature format is then one edit.

mod batch;
mod ghl_contact;
mod lambda;
mod lms_learner;
mod make_events;
mod provision;
mod queue;
mod replay;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use secrecy::SecretString;

#[derive(Parser)]
#[command(
    name = "xtask",
    about = "Dev tooling for the LMS ⇄ GoHighLevel sync (see docs/dev-tooling.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the realtime, batch and continuation queues (each with a DLQ), the table, both
    /// secrets and the local mapping's LMS secrets on moto; print the functions' environment as
    /// KEY=VALUE lines.
    Provision,
    /// Poll the realtime and batch queues for sync-worker and the continuation queue for
    /// daily-batch, invoke them with real SQS events, delete what they report done (until
    /// stopped).
    Forward,
    /// Invoke daily-batch with one job, as its schedule would, and print the report; fails when
    /// the invocation does.
    Batch {
        #[arg(long, value_enum)]
        job: batch::Job,
        /// A [targets.<name>] of the mapping (config/local/mapping.toml: academy, talent, handbook).
        #[arg(long)]
        target: String,
        /// Work out what the run would queue, writing nothing.
        #[arg(long)]
        plan: bool,
        /// A poll from this time (RFC 3339) instead of the job's cursor.
        #[arg(long, value_parser = batch::parse_since)]
        since: Option<time::OffsetDateTime>,
    },
    /// Send every sample under events/ to the function its directory names (generic ones
    /// re-signed now).
    Replay {
        /// Fail unless every answer is this one.
        #[arg(long, value_enum)]
        expect: Option<replay::Expect>,
    },
    /// Send a generic sample whose body was changed after signing; fail unless it gets a 401.
    Tampered,
    /// Print how many messages sit on the dead-letter queue (and why, on stderr).
    Parked,
    /// Regenerate events/<function>/*.json from tests/fixtures/ and config/local/webhooks.json.
    MakeEvents,
    /// Create a contact in GHL (GHL_BASE_URL, the local run's token), then tag it: the start of
    /// GHL → LMS when GHL's webhooks reach ghl-events.
    GhlContact {
        #[command(flatten)]
        person: Person,
        /// Tags added after the contact is created, comma-separated.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
    },
    /// Create a learner directly in one of the local mapping's LMS accounts (the LMS sandbox at
    /// SKILLJAR_/TALENTLMS_/TRAINUAL_BASE_URL): a sign-up only the daily batch's poll brings to GHL.
    LmsLearner {
        /// The `[targets.<name>]` of config/local/mapping.toml (`talent`, `handbook`, `academy`).
        #[arg(long)]
        target: String,
        #[command(flatten)]
        person: Person,
    },
}

/// Who a contact or a learner is.
#[derive(clap::Args)]
struct Person {
    #[arg(long)]
    email: String,
    #[arg(long = "first")]
    first_name: Option<String>,
    #[arg(long = "last")]
    last_name: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse().command).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        // The cause chain on one line; a backtrace (anyhow's Debug under RUST_BACKTRACE) would
        // bury it in scripts/run's output.
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the command's checks held (`replay --expect`, `tampered`); the others fail by error.
async fn run(command: Command) -> Result<bool> {
    match command {
        Command::Provision => provision::run(&aws().await?).await?,
        Command::Forward => queue::forward(&aws().await?, &lambda::Lambda::from_env()?).await?,
        Command::Batch {
            job,
            target,
            plan,
            since,
        } => {
            let invocation = batch::Invocation {
                job,
                target,
                plan,
                since,
            };
            batch::run(&lambda::Lambda::from_env()?, invocation).await?
        }
        Command::Replay { expect } => return replay::replay(&lambda::Lambda::from_env()?, expect).await,
        Command::Tampered => return replay::tampered(&lambda::Lambda::from_env()?).await,
        Command::Parked => queue::parked(&aws().await?).await?,
        Command::MakeEvents => make_events::run()?,
        Command::LmsLearner { target, person } => {
            lms_learner::run(lms_learner::NewLearner {
                target,
                email: person.email,
                first_name: person.first_name,
                last_name: person.last_name,
            })
            .await?
        }
        Command::GhlContact { person, tags } => {
            ghl_contact::run(ghl_contact::NewContact {
                email: person.email,
                first_name: person.first_name,
                last_name: person.last_name,
                tags,
            })
            .await?
        }
    }
    Ok(true)
}

/// The repository root: the binary is only ever built from this tree, and the commands read
/// `config/local/`, `events/` and `tests/fixtures/` wherever they are started from.
fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn read_root_file(path: &str) -> Result<String> {
    std::fs::read_to_string(root().join(path)).with_context(|| format!("reading {path}"))
}

fn env_var(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set (scripts/run sets it)"))
}

/// The SDK configuration, refusing to run without `AWS_ENDPOINT_URL`: these commands create and
/// delete things, and are meant for moto, never for whatever account the shell has credentials for.
async fn aws() -> Result<aws_config::SdkConfig> {
    env_var("AWS_ENDPOINT_URL")?;
    Ok(lms_ghl::aws::sdk_config().await)
}

/// The local webhook credentials, parsed by the library's own parser so that the secret's schema
/// is defined once.
fn webhook_secrets() -> Result<(SecretString, lms_ghl::ingest::WebhookSecrets)> {
    let text = SecretString::from(read_root_file(WEBHOOK_SECRETS)?);
    let parsed = lms_ghl::secrets::parse_secret(WEBHOOK_SECRETS, &text)?;
    Ok((text, parsed))
}

const WEBHOOK_SECRETS: &str = "config/local/webhooks.json";

/// The first generic signing secret of the local webhook credentials.
fn signing_secret() -> Result<SecretString> {
    let (_, secrets) = webhook_secrets()?;
    secrets
        .auth::<lms_ghl::ingest::generic::Generic>(WEBHOOK_SECRETS)?
        .signing_secrets
        .into_iter()
        .next()
        .context("config/local/webhooks.json has no generic.signingSecrets")
}
