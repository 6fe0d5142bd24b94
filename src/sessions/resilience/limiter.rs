//! Client-side rate limiting per operation, after the AWS SDKs' adaptive retry
//! mode: a token bucket whose fill rate follows CUBIC (β = 0.7) — cut on
//! throttling, grown back as calls succeed — and never exceeds the operation's
//! ceiling, so the sidecar stays inside its share of the account's quota. The
//! bucket holds one token: calls are paced, not burst. Time is tokio's, so
//! tests control it.

use std::time::Duration;

use tokio::time::Instant;

/// CUBIC's multiplicative decrease.
pub const BETA: f64 = 0.7;
/// CUBIC's scale constant.
const SCALE: f64 = 0.4;
/// Lowest fill rate, requests per second.
const MIN_RATE: f64 = 0.5;
/// Weight of the newest measurement in the sending-rate average.
const SMOOTH: f64 = 0.8;
/// Width of the sending-rate measurement buckets, seconds.
const BUCKET: f64 = 0.5;

/// One operation's adaptive limiter.
#[derive(Debug)]
pub struct AdaptiveLimiter {
    ceiling: f64,
    rate: f64,
    tokens: f64,
    last_refill: Instant,
    last_max_rate: f64,
    last_throttle: Option<Instant>,
    measured_rate: f64,
    bucket_start: f64,
    bucket_count: u64,
    origin: Instant,
}

impl AdaptiveLimiter {
    /// A limiter sending at most `ceiling` requests per second.
    pub fn new(ceiling: f64, now: Instant) -> Self {
        Self {
            ceiling,
            rate: ceiling,
            tokens: 1.0,
            last_refill: now,
            last_max_rate: ceiling,
            last_throttle: None,
            measured_rate: 0.0,
            bucket_start: 0.0,
            bucket_count: 0,
            origin: now,
        }
    }

    /// The current fill rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last_refill).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(1.0);
        self.last_refill = now;
    }

    /// Reserves the next send slot and returns when it is: `now` if a token is
    /// there, later otherwise. The reservation is taken either way, so callers
    /// that will not wait must call [`AdaptiveLimiter::cancel`].
    pub fn reserve(&mut self, now: Instant) -> Instant {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            now
        } else {
            now + Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// Gives back a reservation that will not be used.
    pub fn cancel(&mut self) {
        self.tokens = (self.tokens + 1.0).min(1.0);
    }

    /// Records the outcome of a sent request and adapts the rate: a throttle
    /// cuts it to β times the rate actually sent; successes after a throttle
    /// grow it back along the CUBIC curve (and at most to twice the rate
    /// actually sent) until it reaches the ceiling, where it stays.
    pub fn record(&mut self, throttled: bool, now: Instant) {
        self.measure(now);
        self.refill(now);
        if throttled {
            let base = if self.measured_rate > 0.0 { self.measured_rate.min(self.rate) } else { self.rate };
            self.last_max_rate = base;
            self.last_throttle = Some(now);
            self.rate = (base * BETA).clamp(MIN_RATE, self.ceiling);
            return;
        }
        let Some(last_throttle) = self.last_throttle else {
            return;
        };
        let k = (self.last_max_rate * (1.0 - BETA) / SCALE).cbrt();
        let t = now.saturating_duration_since(last_throttle).as_secs_f64();
        let cubic = SCALE * (t - k).powi(3) + self.last_max_rate;
        let bounded = if self.measured_rate > 0.0 { cubic.min(2.0 * self.measured_rate) } else { cubic };
        self.rate = bounded.clamp(MIN_RATE, self.ceiling);
        if self.rate >= self.ceiling {
            self.last_throttle = None;
        }
    }

    fn measure(&mut self, now: Instant) {
        let t = now.saturating_duration_since(self.origin).as_secs_f64();
        let bucket = (t / BUCKET).floor() * BUCKET;
        self.bucket_count += 1;
        if bucket > self.bucket_start {
            let current = self.bucket_count as f64 / (bucket - self.bucket_start);
            self.measured_rate = current * SMOOTH + self.measured_rate * (1.0 - SMOOTH);
            self.bucket_count = 0;
            self.bucket_start = bucket;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_at_the_ceiling_without_bursts() {
        let t0 = Instant::now();
        let mut limiter = AdaptiveLimiter::new(20.0, t0);
        let slots: Vec<Duration> = (0..4).map(|_| limiter.reserve(t0) - t0).collect();
        assert_eq!(slots, [0, 50, 100, 150].map(Duration::from_millis));
    }

    #[test]
    fn throttling_cuts_by_beta_and_successes_grow_back_to_the_ceiling() {
        let t0 = Instant::now();
        let mut limiter = AdaptiveLimiter::new(20.0, t0);
        let mut now = t0;
        for _ in 0..40 {
            now += Duration::from_millis(50);
            limiter.reserve(now);
            limiter.record(false, now);
        }
        assert_eq!(limiter.rate(), 20.0);
        now += Duration::from_millis(50);
        limiter.record(true, now);
        let cut = limiter.rate();
        assert!((MIN_RATE..=20.0 * BETA + 1e-9).contains(&cut), "{cut}");
        let mut previous = cut;
        for _ in 0..200 {
            now += Duration::from_millis(100);
            limiter.record(false, now);
            assert!(limiter.rate() >= previous - 1e-9 || limiter.rate() >= 20.0 - 1e-9);
            previous = limiter.rate();
        }
        assert_eq!(limiter.rate(), 20.0, "recovers to, and never above, the ceiling");
    }

    #[test]
    fn sparse_traffic_without_throttling_keeps_the_ceiling() {
        let t0 = Instant::now();
        let mut limiter = AdaptiveLimiter::new(20.0, t0);
        for s in 1..=10 {
            let now = t0 + Duration::from_secs(s);
            limiter.reserve(now);
            limiter.record(false, now);
        }
        assert_eq!(limiter.rate(), 20.0, "a quiet period does not slow the next burst");
    }

    #[test]
    fn a_cancelled_reservation_frees_the_slot() {
        let t0 = Instant::now();
        let mut limiter = AdaptiveLimiter::new(10.0, t0);
        assert_eq!(limiter.reserve(t0), t0);
        let later = limiter.reserve(t0);
        assert_eq!(later - t0, Duration::from_millis(100));
        limiter.cancel();
        assert_eq!(limiter.reserve(t0) - t0, Duration::from_millis(100));
    }
}
