//! `lms-sync-ops`: the operator's CLI. It reads the functions' environment variables
//! (`DEAD_LETTER_QUEUE_URL`, `QUEUE_URL`, `WEBHOOK_SECRET_ID`, …) and the usual AWS ones, so it
//! works against a deployed stack or, with `AWS_ENDPOINT_URL`, the local emulators.
//!
//! Exit codes: 0 done; 1 failed (the message says why); 2 wrong usage (clap's); 3 (`status`)
//! messages are parked on a dead-letter queue.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use ops::dlq::{self, Filter};

#[derive(Parser)]
#[command(
    name = "lms-sync-ops",
    about = "Operate the LMS ⇄ GoHighLevel sync (docs/operations.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parked messages on the worker's dead-letter queue (`DEAD_LETTER_QUEUE_URL`).
    #[command(subcommand)]
    Dlq(Dlq),
    /// Webhook helpers.
    #[command(subcommand)]
    Webhook(Webhook),
    /// A GHL location's OAuth credentials.
    #[command(subcommand)]
    Oauth(Oauth),
    /// Run one daily-batch job here, with the functions' settings (`TABLE_NAME`, the queues,
    /// `GHL_SECRET_ID`, the mapping, …); its last runs: `status`.
    #[command(subcommand)]
    Batch(Batch),
    /// Check the worker's configuration as its cold start does (mapping, GHL secrets, LMS
    /// targets) and against each GHL location (the custom fields the mapping names); exits 1
    /// when something would fail.
    #[command(subcommand)]
    Config(Config),
    /// Skilljar's webhook subscriptions for this deployment's endpoints.
    #[command(subcommand)]
    Skilljar(Skilljar),
    /// The GHL custom object learning records are kept in (`[learning_records]` in the mapping).
    #[command(subcommand)]
    Schema(Schema),
    /// Post event samples (events/<function>/*.json) or captured webhook bodies to an endpoint,
    /// with the credentials each route needs from the deployment's webhook secret
    /// (`WEBHOOK_SECRET_ID`); fails unless every answer is a 2xx.
    Replay {
        /// The API's base URL: the stack's `ApiUrl` output, or `http://127.0.0.1:9000/lambda-url`
        /// for `scripts/run`.
        #[arg(long)]
        url: String,
        /// The route for bare bodies (`learner-created/generic`); samples carry theirs.
        #[arg(long)]
        route: Option<String>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The outbox (accepted deliveries, in their claims in `TABLE_NAME`): what to do when the
    /// outbox Pipe could not send some to the realtime queue (its DLQ, `OutboxDeadLetterQueueUrl`).
    #[command(subcommand)]
    Outbox(Outbox),
    /// Queue and dead-letter depths (every `*QUEUE_URL` variable set) and each daily-batch job's
    /// last run (`TABLE_NAME`, the mapping: `MAPPING_FILE` or the bundled one). Exits 3 when
    /// messages are parked.
    Status {
        /// The stack's name: its functions' recent error lines too (`/aws/lambda/<stack>-*`).
        #[arg(long)]
        stack: Option<String>,
        /// How far back to look for errors.
        #[arg(long, default_value_t = 60)]
        errors_since_minutes: i64,
    },
}

#[derive(Subcommand)]
enum Outbox {
    /// Send every delivery accepted in the last N minutes to the realtime queue (`QUEUE_URL`)
    /// again: a full table Scan; what had reached the queue before is absorbed by the worker's
    /// claims (no GHL call).
    Resend {
        /// How far back: cover the time the outbox DLQ's batches were written.
        #[arg(long)]
        since_minutes: i64,
        /// Say what would be sent, sending nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum Dlq {
    /// One line per parked message: id, event type, reason, age, receives.
    List(FilterArgs),
    /// One parked message in full: its reason, detail and body.
    Show {
        /// The message id `list` prints.
        message_id: String,
    },
    /// Move the selected messages back to the worker's queue (`QUEUE_URL`); each is applied once.
    Redrive {
        #[command(flatten)]
        filter: FilterArgs,
        /// Say what would move, moving nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Args)]
struct FilterArgs {
    /// Only messages the worker parked for this reason (`redrive_policy`: the ones the queue moved
    /// after their receives).
    #[arg(long)]
    reason: Option<String>,
    /// Only events of this kind (`LearnerCreated`, `MilestoneReached`, `TaskChanged`, `NoteAdded`,
    /// `GhlChanged`).
    #[arg(long)]
    event_type: Option<String>,
    /// Only messages parked at least this many minutes ago.
    #[arg(long)]
    older_than_minutes: Option<u64>,
}

impl From<&FilterArgs> for Filter {
    fn from(args: &FilterArgs) -> Self {
        Filter {
            reason: args.reason.clone(),
            event_type: args.event_type.clone(),
            older_than: args.older_than_minutes.map(|m| Duration::from_secs(m * 60)),
        }
    }
}

#[derive(Subcommand)]
enum Config {
    /// With the sync-worker's settings (`GHL_SECRET_ID`, `MAPPING_FILE` or the bundled mapping,
    /// `TABLE_NAME`, …).
    Check,
}

#[derive(Subcommand)]
enum Schema {
    /// Create what each location (`GHL_SECRET_ID`) lacks: the object, its fields, the search on
    /// its unique key, the association to contacts. Running it again changes nothing.
    Install {
        /// Only list what would be created.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum Batch {
    /// Queue the job's differences (a reconcile or a poll).
    Run(BatchArgs),
    /// Work out the differences and write nothing.
    Plan(BatchArgs),
    /// Each job's last run (the daily-batch part of `status`; `TABLE_NAME`, the mapping).
    Status,
}

#[derive(Args)]
struct BatchArgs {
    /// `reconcile` (both directions against GHL's contacts) or `poll` (LMS learners changed since
    /// the cursor).
    #[arg(long)]
    job: String,
    /// A `[targets.<name>]` of the mapping.
    #[arg(long)]
    target: String,
    /// A poll from this time (RFC 3339) instead of the job's cursor.
    #[arg(long)]
    since: Option<String>,
    /// Stop after this long and hand the rest to the continuation queue.
    #[arg(long, default_value_t = 14)]
    minutes: u64,
}

#[derive(Subcommand)]
enum Skilljar {
    /// Subscribe our routes to the Skilljar events they take (learner-created: enrollments;
    /// milestone-completed: enrollments, completions, path enrollments), with the Basic
    /// credentials from the webhook secret (`WEBHOOK_SECRET_ID`). Repeating it changes nothing.
    Subscribe(SkilljarArgs),
    /// Delete the subscriptions pointing at our API; others stay.
    Unsubscribe(SkilljarArgs),
}

#[derive(Args)]
struct SkilljarArgs {
    /// The API's base URL (the stack's `ApiUrl` output).
    #[arg(long)]
    api_url: String,
    /// The Skilljar account's secret (its API key and domain; a target's `secret_id` in the mapping).
    #[arg(long)]
    secret_id: String,
    /// Skilljar's API base URL.
    #[arg(long)]
    skilljar_base_url: Option<String>,
}

#[derive(Subcommand)]
enum Oauth {
    /// Trade an authorization code (the app's install redirect) for the location's token pair
    /// and store it in the location's secret. The client secret is read from
    /// `GHL_CLIENT_SECRET` and the code from `GHL_AUTH_CODE`, never from the command line.
    Install {
        /// The location's GHL secret (one of `GHL_SECRET_ID`'s).
        #[arg(long)]
        secret_id: String,
        #[arg(long)]
        location_id: String,
        #[arg(long)]
        client_id: String,
        /// The redirect URI the app registered, when GHL asks for it.
        #[arg(long)]
        redirect_uri: Option<String>,
        /// GHL's API base URL.
        #[arg(long, default_value = "https://services.leadconnectorhq.com")]
        ghl_base_url: String,
    },
    /// For each secret in `GHL_SECRET_ID` (comma-separated): its location, the kind of
    /// credential and when the access token expires (and when the secret last changed).
    Status,
}

#[derive(Subcommand)]
enum Webhook {
    /// Print the `x-webhook-signature` header for a body, signed now with the deployment's
    /// webhook secret (`WEBHOOK_SECRET_ID`): for `curl -H` against a generic route.
    Sign {
        /// The exact bytes to be posted.
        #[arg(long)]
        body: PathBuf,
    },
}

fn env_var(name: &str) -> Result<String> {
    std::env::var(name)
        .with_context(|| format!("{name} is not set (the functions' environment; see docs/operations.md)"))
}

/// The status of these queues and of the mapping's batch jobs (`TABLE_NAME`, `MAPPING_FILE`).
async fn read_status(
    sdk: &aws_config::SdkConfig,
    queues: &[(String, String)],
) -> Result<ops::status::Status> {
    let json = lms_ghl::aws::AwsJson::new(sdk, lms_ghl::http::client(Duration::from_secs(10))?);
    let table =
        lms_ghl::aws::DynamoTable::new(aws_sdk_dynamodb::Client::new(sdk), json, env_var("TABLE_NAME")?);
    let mapping = match std::env::var("MAPPING_FILE") {
        Ok(path) => lms_ghl::mapping::Mapping::load(std::path::Path::new(&path))?,
        Err(_) => lms_ghl::mapping::Mapping::bundled()?,
    };
    Ok(ops::status::read(&aws_sdk_sqs::Client::new(sdk), queues, &table, &mapping).await?)
}

fn age(parked: &dlq::Parked) -> String {
    parked.parked_at.map_or_else(
        || "?".to_owned(),
        |at| {
            let minutes = (time::OffsetDateTime::now_utc() - at).whole_minutes();
            format!("{minutes} min")
        },
    )
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let sdk = lms_ghl::aws::sdk_config().await;
    match cli.command {
        Command::Status {
            stack,
            errors_since_minutes,
        } => {
            let queues: Vec<(String, String)> = ops::status::QUEUES
                .iter()
                .filter_map(|v| std::env::var(v).ok().map(|url| ((*v).to_owned(), url)))
                .collect();
            let status = read_status(&sdk, &queues).await?;
            print!("{status}");
            if let Some(stack) = stack {
                let since = time::OffsetDateTime::now_utc() - time::Duration::minutes(errors_since_minutes);
                let since_ms = (since.unix_timestamp_nanos() / 1_000_000) as i64;
                let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
                let errors = ops::status::recent_errors(&logs, &stack, since_ms, 10).await?;
                println!(
                    "recent errors (last {errors_since_minutes} min, newest first): {}",
                    errors.len()
                );
                for e in &errors {
                    println!(
                        "  {} {}: {} [{}]",
                        e.at_ms,
                        e.function,
                        e.message,
                        e.correlation_id.as_deref().unwrap_or("-")
                    );
                }
            }
            return Ok(if status.parked() > 0 {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            });
        }
        Command::Outbox(Outbox::Resend {
            since_minutes,
            dry_run,
        }) => {
            let table = env_var("TABLE_NAME")?;
            let since = time::OffsetDateTime::now_utc() - time::Duration::minutes(since_minutes);
            let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
            let accepted = ops::outbox::accepted_since(&dynamodb, &table, since).await?;
            for a in &accepted {
                println!("{}\t{}\t{}", a.event_id, a.event_type, a.received_at);
            }
            if dry_run {
                eprintln!(
                    "{} accepted delivery(ies) would be sent again (dry run)",
                    accepted.len()
                );
            } else {
                let http = lms_ghl::http::client(Duration::from_secs(30))?;
                let queue = lms_ghl::aws::SqsQueue::new(
                    lms_ghl::aws::AwsJson::new(&sdk, http),
                    env_var("QUEUE_URL")?,
                );
                ops::outbox::resend(&queue, &accepted).await?;
                eprintln!(
                    "{} accepted delivery(ies) sent to the realtime queue again",
                    accepted.len()
                );
            }
        }
        Command::Dlq(command) => {
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            let dlq_url = env_var("DEAD_LETTER_QUEUE_URL")?;
            match command {
                Dlq::List(filter) => {
                    let filter = Filter::from(&filter);
                    let now = time::OffsetDateTime::now_utc();
                    let all = dlq::list(&sqs, &dlq_url).await?;
                    let shown: Vec<_> = all.iter().filter(|p| filter.matches(p, now)).collect();
                    for p in &shown {
                        println!(
                            "{}\t{}\t{}\t{}\t{} receive(s)",
                            p.message_id,
                            p.event_type.as_deref().unwrap_or("-"),
                            p.reason.as_deref().unwrap_or("redrive_policy"),
                            age(p),
                            p.receive_count
                        );
                    }
                    eprintln!("{} of {} parked message(s)", shown.len(), all.len());
                }
                Dlq::Show { message_id } => {
                    let all = dlq::list(&sqs, &dlq_url).await?;
                    let p = all
                        .iter()
                        .find(|p| p.message_id == message_id)
                        .with_context(|| format!("no parked message {message_id}"))?;
                    println!("message id:  {}", p.message_id);
                    println!(
                        "event:       {} {}",
                        p.event_type.as_deref().unwrap_or("-"),
                        p.event_id.as_deref().unwrap_or("-")
                    );
                    println!(
                        "reason:      {}",
                        p.reason
                            .as_deref()
                            .unwrap_or("redrive_policy (moved after its receives)")
                    );
                    println!("detail:      {}", p.detail.as_deref().unwrap_or("-"));
                    println!("parked:      {} ago, {} receive(s)", age(p), p.receive_count);
                    println!("body:        {}", p.body);
                }
                Dlq::Redrive { filter, dry_run } => {
                    let target = env_var("QUEUE_URL")?;
                    let bar = indicatif::ProgressBar::new_spinner();
                    bar.set_message("moving parked messages");
                    let report =
                        dlq::redrive(&sqs, &dlq_url, &target, &Filter::from(&filter), dry_run, &|p| {
                            bar.inc(1);
                            bar.set_message(p.message_id.clone());
                        })
                        .await?;
                    bar.finish_and_clear();
                    let verb = if dry_run { "would move" } else { "moved" };
                    for id in &report.moved {
                        println!("{id}");
                    }
                    eprintln!(
                        "{verb} {} message(s); {} left parked",
                        report.moved.len(),
                        report.left
                    );
                }
            }
        }
        Command::Oauth(Oauth::Install {
            secret_id,
            location_id,
            client_id,
            redirect_uri,
            ghl_base_url,
        }) => {
            let client_secret = secrecy::SecretString::from(env_var("GHL_CLIENT_SECRET")?);
            let code = secrecy::SecretString::from(env_var("GHL_AUTH_CODE")?);
            let secrets = lms_ghl::aws::SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk));
            let endpoint = lms_ghl::ghl::TokenEndpoint::new(
                lms_ghl::http::client(Duration::from_secs(30))?,
                &ghl_base_url,
            )?;
            let install = ops::oauth::Install {
                secret_id: &secret_id,
                location_id: &location_id,
                client_id: &client_id,
                client_secret: &client_secret,
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
            };
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let installed = ops::oauth::install(&secrets, &endpoint, &install, now).await?;
            println!(
                "stored the token pair of location {} in {secret_id}; the access token expires in {} min (the worker refreshes it)",
                installed.location_id,
                (installed.expires_at - now) / 60
            );
        }
        Command::Oauth(Oauth::Status) => {
            let client = aws_sdk_secretsmanager::Client::new(&sdk);
            let secrets = lms_ghl::aws::SecretsManager::new(client.clone());
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            for id in env_var("GHL_SECRET_ID")?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let changed = client
                    .describe_secret()
                    .secret_id(id)
                    .send()
                    .await
                    .ok()
                    .and_then(|d| d.last_changed_date().map(|t| t.secs()))
                    .map_or_else(|| "?".to_owned(), |t| format!("{} min ago", (now - t) / 60));
                match ops::oauth::status(&secrets, id).await? {
                    ops::oauth::TokenStatus::PrivateIntegrationToken { location_id } => {
                        println!("{id}	{location_id}	private integration token	changed {changed}");
                    }
                    ops::oauth::TokenStatus::OAuth {
                        location_id,
                        expires_at,
                    } => {
                        let left = expires_at - now;
                        let expiry = if left > 0 {
                            format!("expires in {} min", left / 60)
                        } else {
                            format!("expired {} min ago (refreshed at the next call)", -left / 60)
                        };
                        println!("{id}	{location_id}	OAuth	{expiry}	last refreshed {changed}");
                    }
                }
            }
        }
        Command::Config(Config::Check) => {
            let settings = lms_ghl::config::WorkerSettings::from_env(&lms_ghl::config::Env::process())?;
            let findings = lms_ghl::app::check_config(&settings, &sdk).await?;
            print!("{}", ops::config::describe(&findings));
            if ops::config::problems(&findings) > 0 {
                anyhow::bail!(
                    "{} problem(s) in the configuration",
                    ops::config::problems(&findings)
                );
            }
        }
        Command::Schema(Schema::Install { dry_run }) => {
            let settings = lms_ghl::config::WorkerSettings::from_env(&lms_ghl::config::Env::process())?;
            let done = lms_ghl::app::install_learning_records(&settings, &sdk, dry_run).await?;
            if done.is_empty() {
                anyhow::bail!("the mapping has no [learning_records] section: nothing to install");
            }
            let mut failed = 0;
            for (location_id, result) in &done {
                match result {
                    Ok(steps) if steps.is_empty() => println!("{location_id}: installed, nothing to do"),
                    Ok(steps) => {
                        for step in steps {
                            let verb = if dry_run { "would" } else { "did" };
                            println!("{location_id}: {verb} {step}");
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        println!("{location_id}: FAILED {e}");
                    }
                }
            }
            if failed > 0 {
                anyhow::bail!("{failed} location(s) could not be installed");
            }
        }
        Command::Batch(Batch::Status) => {
            let status = read_status(&sdk, &[]).await?;
            print!("{}", status.jobs_text());
        }
        Command::Batch(command) => {
            let (mode, args) = match &command {
                Batch::Run(args) => (lms_ghl::batch::Mode::Run, args),
                Batch::Plan(args) => (lms_ghl::batch::Mode::Plan, args),
                Batch::Status => unreachable!("answered above"),
            };
            let job = match args.job.as_str() {
                "reconcile" => lms_ghl::batch::JobKind::Reconcile,
                "poll" => lms_ghl::batch::JobKind::Poll,
                other => anyhow::bail!("--job {other}: expected reconcile or poll"),
            };
            let since = args
                .since
                .as_deref()
                .map(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339))
                .transpose()
                .context("--since: expected RFC 3339 (2026-11-23T00:00:00Z)")?;
            let settings = lms_ghl::config::BatchSettings::from_env(&lms_ghl::config::Env::process())?;
            let runner =
                lms_ghl::app::daily_batch(&settings, &sdk, lms_ghl::batch::BatchTuning::default()).await?;
            let request = lms_ghl::batch::BatchRequest {
                job,
                target: args.target.clone(),
                mode,
                since,
                run_id: None,
            };
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(format!("{} running", request.job_name()));
            bar.enable_steady_tick(Duration::from_millis(200));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(args.minutes * 60);
            let report = runner.run(&request, deadline).await;
            bar.finish_and_clear();
            print!("{}", ops::batch::describe(&report?));
        }
        Command::Skilljar(command) => {
            let (Skilljar::Subscribe(args) | Skilljar::Unsubscribe(args)) = &command;
            let source: std::sync::Arc<dyn lms_ghl::ports::SecretSource> = std::sync::Arc::new(
                lms_ghl::aws::SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk)),
            );
            let config = lms_ghl::lms::LmsConfig {
                base_url: args.skilljar_base_url.clone(),
                retry: lms_ghl::http::RetryPolicy::default(),
            };
            let client = lms_ghl::lms::SkilljarClient::new(
                &config,
                lms_ghl::http::client(Duration::from_secs(30))?,
                lms_ghl::secrets::CachedSecret::new(
                    source.clone(),
                    &args.secret_id,
                    Duration::from_secs(300),
                ),
                std::sync::Arc::new(lms_ghl::http::Unlimited),
            )?;
            let changes = match command {
                Skilljar::Subscribe(_) => {
                    let webhook = source.secret_string(&env_var("WEBHOOK_SECRET_ID")?).await?;
                    let (user, password) = ops::skilljar::basic_auth(&webhook)?;
                    ops::skilljar::subscribe(&client, &args.api_url, (&user, &password)).await?
                }
                Skilljar::Unsubscribe(_) => ops::skilljar::unsubscribe(&client, &args.api_url).await?,
            };
            for (url, event_type) in &changes.created {
                println!("created\t{event_type}\t{url}");
            }
            for (url, event_type) in &changes.kept {
                println!("kept\t{event_type}\t{url}");
            }
            for (url, event_type) in &changes.deleted {
                println!("deleted\t{event_type}\t{url}");
            }
        }
        Command::Replay { url, route, files } => {
            use lms_ghl::ports::SecretSource;
            let secrets = lms_ghl::aws::SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk));
            let secret = secrets.secret_string(&env_var("WEBHOOK_SECRET_ID")?).await?;
            let http = lms_ghl::http::client(Duration::from_secs(30))?;
            let mut failed = 0;
            for file in &files {
                let delivery = ops::replay::read(file, route.as_deref())?;
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let headers = ops::replay::headers(&delivery, &secret, now)?;
                let (status, answer) = ops::replay::send(&http, &url, &delivery, &headers).await?;
                println!("{} -> {}: {status} {answer}", file.display(), delivery.route);
                failed += usize::from(!(200..300).contains(&status));
            }
            if failed > 0 {
                anyhow::bail!("{failed} of {} deliveries were not answered 2xx", files.len());
            }
        }
        Command::Webhook(Webhook::Sign { body }) => {
            let bytes = std::fs::read(&body).with_context(|| format!("reading {}", body.display()))?;
            let secrets = lms_ghl::aws::SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk));
            let header = ops::webhook::signature_header(
                &secrets,
                &env_var("WEBHOOK_SECRET_ID")?,
                &bytes,
                time::OffsetDateTime::now_utc().unix_timestamp(),
            )
            .await?;
            println!("{header}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lms-sync-ops: {e:#}");
            ExitCode::FAILURE
        }
    }
}
