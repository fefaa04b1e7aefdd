//! Seeded fault dice. Every request rolls the same three numbers whatever the outcome, so with a
//! fixed seed the n-th request always meets the same fault (for requests that arrive in a fixed
//! order; concurrent requests take the rolls in arrival order).

use std::time::Duration;

use http::StatusCode;

use crate::config::{FaultConfig, Latency};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without an answer.
    Drop,
    /// Carry the request out, then close the connection without an answer.
    LostAnswer,
    TooManyRequests,
    Server(StatusCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roll {
    pub latency: Duration,
    pub fault: Option<Fault>,
}

#[derive(Debug)]
pub struct Dice {
    rng: fastrand::Rng,
}

const SERVER_ERRORS: [StatusCode; 3] = [
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
];

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    pub fn roll(&mut self, config: &FaultConfig) -> Roll {
        let pick = self.rng.f64();
        let which = self.rng.usize(..SERVER_ERRORS.len());
        let spread = self.rng.f64();
        let fault = if pick < config.rate_drop {
            Some(Fault::Drop)
        } else if pick < config.rate_drop + config.rate_429 {
            Some(Fault::TooManyRequests)
        } else if pick < config.rate_drop + config.rate_429 + config.rate_5xx {
            Some(Fault::Server(SERVER_ERRORS[which]))
        } else if pick < config.rate_drop + config.rate_429 + config.rate_5xx + config.rate_lost_answer {
            Some(Fault::LostAnswer)
        } else {
            None
        };
        let latency = match config.latency {
            Latency::None => Duration::ZERO,
            Latency::Fixed(d) => d,
            Latency::Uniform(low, high) => {
                let (low, high) = if low <= high { (low, high) } else { (high, low) };
                low + (high - low).mul_f64(spread)
            }
        };
        Roll { latency, fault }
    }
}

/// Refuses probabilities a roll cannot honour.
pub fn validate(name: &str, config: &FaultConfig) -> Result<(), String> {
    let rates = [
        config.rate_429,
        config.rate_5xx,
        config.rate_drop,
        config.rate_lost_answer,
    ];
    if rates.iter().any(|r| !(0.0..=1.0).contains(r)) {
        return Err(format!("{name}: each fault rate must be within 0..=1"));
    }
    if rates.iter().sum::<f64>() > 1.0 + f64::EPSILON {
        return Err(format!("{name}: the fault rates must not add up to more than 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let config = FaultConfig {
            rate_429: 0.2,
            rate_5xx: 0.2,
            rate_drop: 0.1,
            rate_lost_answer: 0.1,
            latency: Latency::Uniform(Duration::from_millis(1), Duration::from_millis(9)),
        };
        let rolls = |seed| {
            let mut dice = Dice::new(seed);
            (0..50).map(|_| dice.roll(&config)).collect::<Vec<Roll>>()
        };
        let (a, b) = (rolls(7), rolls(7));
        assert_ne!(a, rolls(8));
        assert_eq!(a, b);
        assert!(
            a.iter()
                .all(|r| r.latency >= Duration::from_millis(1) && r.latency <= Duration::from_millis(9))
        );
    }

    #[test]
    fn off_means_never() {
        let mut d = Dice::new(1);
        assert!((0..1000).all(|_| d.roll(&FaultConfig::default()).fault.is_none()));
    }
}
