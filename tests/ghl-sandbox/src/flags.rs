//! The binary's flag parser, kept in the library so that other sandbox binaries of the project
//! parse flags the same way (`--name value`, `--name=value`, repeatable flags, switches, and every
//! flag also read from the environment as `<PREFIX><NAME>`, flags winning). Hand-written to keep
//! the binaries free of a CLI framework.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use crate::config::{FaultConfig, Latency};

/// What a binary accepts.
#[derive(Debug, Clone, Copy)]
pub struct FlagSpec {
    /// Every flag, without the leading `--`.
    pub names: &'static [&'static str],
    /// Flags that take no value (`--quiet`); they read as `"true"`.
    pub switches: &'static [&'static str],
    /// `GHL_SANDBOX_` makes `--rate-max` readable as `GHL_SANDBOX_RATE_MAX`.
    pub env_prefix: &'static str,
}

/// Parsed flags: every value given for each flag, in order.
#[derive(Debug, Clone, Default)]
pub struct Flags(HashMap<&'static str, Vec<String>>);

impl Flags {
    /// `Ok(None)` when help was asked for. Environment values are comma-separated lists.
    pub fn parse(spec: &FlagSpec, args: impl IntoIterator<Item = String>) -> Result<Option<Self>, String> {
        Self::parse_with_env(spec, args, |name| std::env::var(name).ok())
    }

    /// `parse` with the environment given, for tests.
    pub fn parse_with_env(
        spec: &FlagSpec,
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        let mut values: HashMap<&'static str, Vec<String>> = HashMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Ok(None);
            }
            let rest = arg
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {arg:?}"))?;
            let (name, inline) = match rest.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (rest, None),
            };
            let flag = spec
                .names
                .iter()
                .copied()
                .find(|f| *f == name)
                .ok_or_else(|| format!("unknown flag --{name} (see --help)"))?;
            let value = match inline {
                Some(value) => value,
                None if spec.switches.contains(&flag) => "true".to_owned(),
                None => args.next().ok_or_else(|| format!("--{flag} needs a value"))?,
            };
            values.entry(flag).or_default().push(value);
        }
        for flag in spec.names.iter().copied() {
            let name = format!("{}{}", spec.env_prefix, flag.to_uppercase().replace('-', "_"));
            if let (false, Some(value)) = (values.contains_key(flag), env(&name)) {
                let list = value
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty());
                values.insert(flag, list.collect());
            }
        }
        Ok(Some(Self(values)))
    }

    pub fn all(&self, flag: &str) -> &[String] {
        self.0.get(flag).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn last(&self, flag: &str) -> Option<&str> {
        self.all(flag).last().map(String::as_str)
    }

    /// A switch is on when given, or set to `true` / `1` in the environment.
    pub fn switch(&self, flag: &str) -> bool {
        matches!(self.last(flag), Some("true" | "1"))
    }

    pub fn number<T: FromStr>(&self, flag: &str) -> Result<Option<T>, String> {
        self.last(flag)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| format!("--{flag}: {v:?} is not a valid number"))
            })
            .transpose()
    }

    /// `MS` or `MIN-MAX` milliseconds.
    pub fn latency(&self, flag: &str) -> Result<Latency, String> {
        let Some(raw) = self.last(flag) else {
            return Ok(Latency::None);
        };
        let ms = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("--{flag}: expected MS or MIN-MAX, got {raw:?}"))
        };
        Ok(match raw.split_once('-') {
            Some((low, high)) => Latency::Uniform(ms(low)?, ms(high)?),
            None => Latency::Fixed(ms(raw)?),
        })
    }

    /// `--{prefix}fault-429`, `--{prefix}fault-5xx`, `--{prefix}fault-drop`,
    /// `--{prefix}fault-lost-answer`, `--{prefix}latency-ms`.
    pub fn faults(&self, prefix: &str) -> Result<FaultConfig, String> {
        Ok(FaultConfig {
            rate_429: self.number(&format!("{prefix}fault-429"))?.unwrap_or(0.0),
            rate_5xx: self.number(&format!("{prefix}fault-5xx"))?.unwrap_or(0.0),
            rate_drop: self.number(&format!("{prefix}fault-drop"))?.unwrap_or(0.0),
            rate_lost_answer: self.number(&format!("{prefix}fault-lost-answer"))?.unwrap_or(0.0),
            latency: self.latency(&format!("{prefix}latency-ms"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: FlagSpec = FlagSpec {
        names: &["port", "token", "quiet", "fault-5xx", "latency-ms"],
        switches: &["quiet"],
        env_prefix: "X_",
    };

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Flags {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Flags::parse_with_env(&SPEC, args.iter().map(|s| s.to_string()), |k| env.get(k).cloned())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn flags_win_over_the_environment_and_repeat() {
        let flags = parse(
            &["--port=1", "--token", "a", "--token", "b", "--quiet"],
            &[("X_PORT", "2"), ("X_FAULT_5XX", "0.5"), ("X_LATENCY_MS", "3-7")],
        );
        assert_eq!(flags.number::<u16>("port").unwrap(), Some(1));
        assert_eq!(flags.all("token"), ["a", "b"]);
        assert!(flags.switch("quiet"));
        let faults = flags.faults("").unwrap();
        assert_eq!(faults.rate_5xx, 0.5);
        assert_eq!(
            faults.latency,
            Latency::Uniform(Duration::from_millis(3), Duration::from_millis(7))
        );
    }

    #[test]
    fn unknown_flags_and_missing_values_are_refused() {
        let parse =
            |args: &[&str]| Flags::parse_with_env(&SPEC, args.iter().map(|s| s.to_string()), |_| None);
        assert!(parse(&["--nope"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--help"]).unwrap().is_none());
    }
}
