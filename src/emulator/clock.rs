//! The emulator's simulated clock: epoch seconds that run `scale` times faster
//! than real time and can be moved forward on demand. It only tells time; it
//! never sleeps and schedules nothing.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

use crate::sync::lock;

/// Simulated time, in epoch seconds.
pub type Time = f64;

/// The latest time the clock may show: 9999-12-31T23:59:59Z, the last second
/// `google.protobuf.Timestamp` (and so every gateway client) can represent.
pub const LATEST: Time = 253_402_300_799.0;

/// A clock that runs `scale` simulated seconds per real second.
#[derive(Debug)]
pub struct SimClock {
    origin_real: Instant,
    origin_epoch: Time,
    scale: f64,
    offset: Mutex<f64>,
}

impl SimClock {
    /// A clock starting at the current wall-clock time.
    pub fn new(scale: f64) -> Self {
        let origin_epoch = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default();
        Self { origin_real: Instant::now(), origin_epoch, scale, offset: Mutex::new(0.0) }
    }

    /// The current simulated time.
    pub fn now(&self) -> Time {
        let elapsed = self.origin_real.elapsed().as_secs_f64() * self.scale;
        self.origin_epoch + elapsed + *lock(&self.offset)
    }

    /// Moves simulated time forward by `seconds` and returns the new time;
    /// refuses to go past [`LATEST`].
    pub fn advance(&self, seconds: f64) -> Result<Time, String> {
        let mut offset = lock(&self.offset);
        let now = self.origin_epoch + self.origin_real.elapsed().as_secs_f64() * self.scale + *offset;
        if !(seconds.is_finite() && seconds >= 0.0 && now + seconds <= LATEST) {
            return Err(format!(
                "seconds must be a number >= 0 that keeps the clock before 9999-12-31T23:59:59Z (at most {})",
                (LATEST - now).max(0.0).floor()
            ));
        }
        *offset += seconds;
        Ok(now + seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scale_multiplies_real_time_and_advance_adds() {
        let clock = SimClock::new(60.0);
        let start = clock.now();
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        assert!((clock.now() - start - 120.0).abs() < 1e-6);
        clock.advance(30.0).expect("in range");
        assert!((clock.now() - start - 150.0).abs() < 1e-6);
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_refuses_to_leave_the_representable_range() {
        let clock = SimClock::new(1.0);
        let before = clock.now();
        for seconds in [1e308, f64::INFINITY, f64::NAN, -1.0, LATEST] {
            assert!(clock.advance(seconds).is_err(), "{seconds}");
        }
        assert_eq!(clock.now(), before, "a refused advance moves nothing");
        let to_the_end = (LATEST - before).floor();
        assert!(clock.advance(to_the_end).expect("up to the end") <= LATEST);
    }
}
