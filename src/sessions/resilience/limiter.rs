//! Client-side rate limiting per operation, after the AWS SDKs' adaptive retry
//! mode: sends are paced by GCRA without burst (each reservation moves the
//! theoretical arrival time on by 1/rate, so sends are evenly spaced), and
//! the rate follows CUBIC (β = 0.7): cut on throttling, grown back as calls
//! succeed, never above the operation's ceiling, so the sidecar stays inside
//! its share of the account's quota. Time is tokio's, so tests control it.
//! The fleet's budget (`fleet/pace.lua`) runs the same rule on Redis; both
//! are held to one table of vectors (`rate_vectors.json`).
//!
//! A cut must pay off. After one, the rate holds (no growth) for the next
//! few dozen attempts while the limiter counts their throttled share; a later
//! throttle cuts again only when that share moved significantly: down after a
//! cut (slowing down helped: the throttling is this sidecar's own doing) or
//! up. Otherwise the rate holds and grows back. Throttling that slowing down
//! does not reduce (another tenant of the account eating the quota) therefore
//! costs two cuts, not a collapse to the floor.

use std::time::Duration;

use tokio::time::Instant;

use super::pacing::{Mark, SlotId};

/// CUBIC's multiplicative decrease.
pub const BETA: f64 = 0.7;
/// CUBIC's scale constant.
const SCALE: f64 = 0.4;
/// Lowest rate, requests per second.
pub const MIN_RATE: f64 = 0.5;
/// Attempts after a cut before the limiter judges whether it paid off.
const EVIDENCE: u32 = 100;
/// How many standard errors apart two throttled shares must be to differ.
const SIGNIFICANCE: f64 = 2.5;
/// A throttled share below this is all but none: the next throttle starts a
/// new episode (and cuts at once).
const QUIET: f64 = 0.05;

/// How a throttled share moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shift {
    Rose,
    Fell,
    Same,
}

/// The attempts since the last cut or hold.
#[derive(Debug, Clone, Copy, Default)]
struct Epoch {
    attempts: u32,
    throttles: u32,
    /// The throttled share before; `None` after the first cut of a
    /// throttling episode (the share before it is unknown).
    before: Option<f64>,
    /// Whether the epoch began with a cut (or with a throttle that held).
    cut: bool,
    /// Whether the rate is held at the cut until the epoch has its evidence.
    frozen: bool,
}

impl Epoch {
    fn share(&self) -> f64 {
        f64::from(self.throttles) / f64::from(self.attempts.max(1))
    }

    /// How the throttled share compares with the one before; `None` when
    /// nothing is known to compare with.
    fn shift(&self) -> Option<Shift> {
        let before = self.before?;
        let error = SIGNIFICANCE * (before * (1.0 - before) / f64::from(self.attempts.max(1))).sqrt();
        let share = self.share();
        Some(if share > before + error {
            Shift::Rose
        } else if share < before - error {
            Shift::Fell
        } else {
            Shift::Same
        })
    }

    /// Whether another cut is called for: nothing to compare with, the
    /// throttled share rose, or it fell after a cut (the cut helped; another
    /// may too).
    fn calls_for_a_cut(&self) -> bool {
        match self.shift() {
            None | Some(Shift::Rose) => true,
            Some(Shift::Fell) => self.cut,
            Some(Shift::Same) => false,
        }
    }
}

/// One operation's adaptive limiter.
#[derive(Debug)]
pub struct AdaptiveLimiter {
    ceiling: f64,
    rate: f64,
    /// The theoretical arrival time: the first slot not handed out.
    tat: Instant,
    last_max_rate: f64,
    last_throttle: Option<Instant>,
    /// Since the last cut or hold; `None` before the first throttle. It
    /// outlives the climb back to the ceiling: what the throttled share was
    /// is the reference for the next throttle.
    epoch: Option<Epoch>,
}

impl AdaptiveLimiter {
    /// A limiter sending at most `ceiling` requests per second.
    pub fn new(ceiling: f64, now: Instant) -> Self {
        Self { ceiling, rate: ceiling, tat: now, last_max_rate: ceiling, last_throttle: None, epoch: None }
    }

    /// The current rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Reserves the next send slot at or after `now` (which may be in the
    /// future: after slots held elsewhere): `now` if none is pending, later
    /// otherwise. The reservation is taken either way; callers that will not
    /// use it give it back ([`AdaptiveLimiter::give_back`]).
    pub fn reserve(&mut self, now: Instant) -> SlotId {
        let start = self.tat.max(now);
        let end = start + Duration::from_secs_f64(1.0 / self.rate);
        self.tat = end;
        SlotId { at: start, mark: Mark::Local { start, end } }
    }

    /// When the next slot is: the first one not handed out.
    pub fn next_slot(&self) -> Instant {
        self.tat
    }

    /// Gives back a slot that will not be used: the schedule moves back to
    /// its start if it is the last one handed out, and stays otherwise (a
    /// slot reserved after it is never handed out twice).
    pub fn give_back(&mut self, slot: &SlotId) {
        if let Mark::Local { start, end } = slot.mark {
            if self.tat == end {
                self.tat = start;
            }
        }
    }

    /// Records the outcome of a sent request and adapts the rate: a throttle
    /// that earns a cut (see the module) cuts it to β times the rate; successes
    /// after a cut grow it back along the CUBIC curve until it reaches the
    /// ceiling, where it stays.
    pub fn record(&mut self, throttled: bool, now: Instant) {
        if let Some(epoch) = self.epoch.as_mut() {
            epoch.attempts += 1;
            epoch.throttles += u32::from(throttled);
        }
        if throttled {
            self.on_throttle(now);
            return;
        }
        if let Some(epoch) = self.epoch.as_mut().filter(|e| e.frozen) {
            if epoch.attempts < EVIDENCE {
                return;
            }
            epoch.frozen = false;
            self.last_throttle = Some(now);
        }
        let Some(last_throttle) = self.last_throttle else {
            return;
        };
        let k = (self.last_max_rate * (1.0 - BETA) / SCALE).cbrt();
        let t = now.saturating_duration_since(last_throttle).as_secs_f64();
        let cubic = SCALE * (t - k).powi(3) + self.last_max_rate;
        self.rate = cubic.clamp(MIN_RATE, self.ceiling);
        if self.rate >= self.ceiling {
            self.last_throttle = None;
        }
    }

    /// A throttle: the first of an episode cuts at once; later ones cut only
    /// once enough attempts since the last cut show that the throttled share
    /// moved, and start a new count either way.
    fn on_throttle(&mut self, now: Instant) {
        let before = match self.epoch {
            None => None,
            Some(epoch) if epoch.attempts < EVIDENCE => return,
            Some(epoch) if epoch.share() < QUIET => None,
            Some(epoch) if !epoch.calls_for_a_cut() => {
                if epoch.frozen {
                    // Growth resumes from the cut rate, along the curve's start.
                    self.last_throttle = Some(now);
                }
                // The reference is the share measured at the cut rate, or a lower
                // one seen since; never one that crept up as the rate grew back.
                let rebase = epoch.cut || epoch.shift() == Some(Shift::Fell);
                let before = if rebase { Some(epoch.share()) } else { epoch.before };
                self.epoch = Some(Epoch { before, ..Epoch::default() });
                return;
            }
            Some(epoch) => Some(epoch.share()),
        };
        self.last_max_rate = self.rate;
        self.last_throttle = Some(now);
        self.rate = (self.rate * BETA).clamp(MIN_RATE, self.ceiling);
        self.epoch = Some(Epoch { before, cut: true, frozen: true, ..Epoch::default() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_between_reservations_from_the_future_moves_no_slot() {
        let t0 = Instant::now();
        let mut limiter = AdaptiveLimiter::new(4.0, t0);
        let later = t0 + Duration::from_secs(2);
        assert_eq!(limiter.reserve(later).at, later);
        limiter.record(false, t0);
        assert_eq!(limiter.reserve(later).at - later, Duration::from_millis(250));
    }

    #[test]
    fn paces_at_the_ceiling_without_bursts() {
        let t0 = Instant::now();
        let mut limiter = AdaptiveLimiter::new(20.0, t0);
        let slots: Vec<Duration> = (0..4).map(|_| limiter.reserve(t0).at - t0).collect();
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

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Sends as fast as the limiter allows for `seconds`, each send throttled
    /// as `throttled(send time)` says; returns the rate after each second and
    /// the sends and throttles of the last half.
    fn drive(seconds: u64, mut throttled: impl FnMut(Duration) -> bool) -> (Vec<f64>, u32, u32) {
        let t0 = Instant::now();
        let mut limiter = AdaptiveLimiter::new(20.0, t0);
        let (mut rates, mut sent, mut refused) = (Vec::new(), 0, 0);
        let mut now = t0;
        while now - t0 < Duration::from_secs(seconds) {
            now = limiter.reserve(now).at;
            let at = now - t0;
            let refuse = throttled(at);
            limiter.record(refuse, now);
            if at >= Duration::from_secs(seconds / 2) {
                sent += 1;
                refused += u32::from(refuse);
            }
            if at.as_secs() as usize >= rates.len() {
                rates.push(limiter.rate());
            }
        }
        (rates, sent, refused)
    }

    #[test]
    fn throttling_that_slowing_down_does_not_reduce_does_not_collapse_the_rate() {
        for (seed, share) in (0..30).map(|seed| (seed, [0.3, 0.5, 0.7][seed as usize % 3])) {
            let mut rng = StdRng::seed_from_u64(seed);
            let (rates, _, _) = drive(300, |_| rng.random_bool(share));
            let lowest = rates.iter().copied().fold(f64::MAX, f64::min);
            let late = rates[150..].iter().sum::<f64>() / (rates.len() - 150) as f64;
            assert!(lowest >= 20.0 * BETA.powi(4), "seed {seed}: fell to {lowest:.2}/s: {rates:.1?}");
            assert!(late >= 20.0 * BETA, "seed {seed}: {late:.2}/s on average over the last 150 s");
        }
    }

    #[test]
    fn throttling_caused_by_this_rate_still_brings_it_down_to_the_quota() {
        let (mut second, mut in_second) = (u64::MAX, 0);
        let (rates, sent, refused) = drive(120, |at| {
            if at.as_secs() != second {
                (second, in_second) = (at.as_secs(), 0);
            }
            in_second += 1;
            in_second > 8
        });
        let rate = f64::from(sent) / 60.0;
        assert!((4.0..=8.0 * 1.3).contains(&rate), "{rate:.2}/s sent against a quota of 8/s: {rates:.1?}");
        assert!(f64::from(refused) <= 0.2 * f64::from(sent), "{refused} of {sent} throttled");
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
    fn a_slot_given_back_is_reused_only_while_it_is_the_last() {
        let t0 = Instant::now();
        let mut limiter = AdaptiveLimiter::new(10.0, t0);
        let first = limiter.reserve(t0);
        let second = limiter.reserve(t0);
        limiter.give_back(&second);
        assert_eq!(limiter.reserve(t0).at - t0, Duration::from_millis(100), "the second slot again");
        let fourth = limiter.reserve(t0);
        limiter.give_back(&first);
        assert_eq!(limiter.reserve(t0).at - t0, Duration::from_millis(300), "a slot before the last one stays taken");
        assert_eq!(fourth.at - t0, Duration::from_millis(200));
    }
}
