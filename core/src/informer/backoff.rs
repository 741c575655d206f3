//! Exponential backoff with jitter, reset after a quiet period (the reflector's retry policy).

use std::time::Duration;

use tokio::time::Instant;

/// 0.8 s doubling to 30 s, ±20 % jitter, back to 0.8 s after 2 minutes without a failure
/// (client-go's reflector numbers).
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    reset_after: Duration,
    next: Duration,
    last_failure: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(
            Duration::from_millis(800),
            Duration::from_secs(30),
            Duration::from_secs(120),
        )
    }
}

/// A jitter factor in [0.8, 1.2).
pub(crate) fn jitter() -> f64 {
    let r = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
    0.8 + 0.4 * r
}

impl Backoff {
    /// A backoff from `initial` doubling to `max`, reset after `reset_after` without failures.
    pub fn new(initial: Duration, max: Duration, reset_after: Duration) -> Self {
        Self {
            initial,
            max,
            reset_after,
            next: initial,
            last_failure: None,
        }
    }

    /// The delay before the next attempt after a failure (with jitter).
    pub fn next_delay(&mut self) -> Duration {
        let now = Instant::now();
        if self
            .last_failure
            .is_some_and(|t| now.duration_since(t) >= self.reset_after)
        {
            self.next = self.initial;
        }
        self.last_failure = Some(now);
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        base.mul_f64(jitter()).min(self.max)
    }

    /// The un-jittered delay the next failure would start from (for tests and metrics).
    pub fn current(&self) -> Duration {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn doubles_caps_and_resets_after_quiet() {
        let mut b = Backoff::default();
        let mut bases = Vec::new();
        for _ in 0..8 {
            bases.push(b.current());
            let d = b.next_delay();
            let base = *bases.last().unwrap();
            assert!(
                d >= base.mul_f64(0.8) && d <= base.mul_f64(1.2).min(Duration::from_secs(30)),
                "{d:?}"
            );
        }
        let secs: Vec<f64> = bases.iter().map(|d| d.as_secs_f64()).collect();
        assert_eq!(secs, [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]);
        tokio::time::advance(Duration::from_secs(121)).await;
        b.next_delay();
        assert_eq!(
            b.current(),
            Duration::from_millis(1600),
            "reset to 0.8 s, then doubled"
        );
    }
}
