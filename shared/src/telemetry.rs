//! Logging: JSON lines (CloudWatch-friendly) with the current span's fields, filtered by
//! `RUST_LOG` (default `info`). `LOG_FORMAT=pretty` gives readable local output.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let pretty = std::env::var("LOG_FORMAT").is_ok_and(|v| v == "pretty");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // try_init: a second call (tests) keeps the first subscriber instead of panicking.
    let _ = if pretty {
        builder.compact().without_time().try_init()
    } else {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .try_init()
    };
}
