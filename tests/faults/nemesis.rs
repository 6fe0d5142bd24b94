//! The nemesis of a fault run: a schedule of Redis faults drawn from a seed
//! up front (so the seed replays it, and it is printed before the run), then
//! carried out on a thread of its own: SIGKILL and restart, SIGSTOP for a
//! while, a flap (killed again as soon as every sidecar rejoined), FLUSHALL,
//! a restart from an older dump, slow replies and partitions of some
//! sidecars (through their proxies), an out-of-memory Redis, and values of
//! the wrong range or type written into the fleet's keys. Every fault goes
//! to the history with its start and end. Each fault heals when it ends,
//! except corrupted values, which the fleet has to survive.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::history::Recorder;
use crate::support::proxy::{Mode, Proxy};
use crate::support::redis::RedisServer;

/// Every key of the fleet (the default prefix, the emulator's Region).
pub const TAG: &str = "{gls:us-west-2}";

/// A value written over a field of one of the fleet's keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Corruption {
    /// A field of an operation's pacing hash (`pace:OP`): a rate of -1, NaN,
    /// 1e-9, 1e308, a send time far in the past or future, not a number.
    Pace { field: &'static str, value: &'static str },
    /// The members' sorted set replaced by a string.
    MembersType,
    /// A field of a `request_id`'s record (`outcome:TOKEN`): garbage bytes.
    Outcome { field: &'static str },
    /// A field of a shared poll result (`poll:…`): garbage bytes, a storage
    /// time years ahead, a freshness of years.
    Poll { field: &'static str, value: &'static [u8] },
}

/// One fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// SIGKILL, restarted empty after `down`.
    Kill { down: Duration },
    /// SIGSTOP for `held`: connections open, nothing answered.
    Freeze { held: Duration },
    /// Killed, restarted after `down`, killed again as soon as every sidecar
    /// is a member again, restarted after `down`.
    Flap { down: Duration },
    /// FLUSHALL.
    Flush,
    /// Killed and restarted after `down` from a dump saved earlier.
    RestartFromDump { down: Duration },
    /// Redis's replies to `sidecars` delayed by `latency` for `held`.
    Slow { sidecars: Vec<usize>, latency: Duration, held: Duration },
    /// `sidecars` cut off from Redis for `held` (held bytes arrive after).
    Partition { sidecars: Vec<usize>, held: Duration },
    /// Every write refused with OOM for `held`.
    OutOfMemory { held: Duration },
    /// A value written over a key.
    Corrupt(Corruption),
}

impl Fault {
    /// About how long it lasts.
    fn span(&self) -> Duration {
        match self {
            Fault::Kill { down } | Fault::RestartFromDump { down } => *down,
            Fault::Flap { down } => *down * 2 + Duration::from_secs(2),
            Fault::Freeze { held }
            | Fault::Slow { held, .. }
            | Fault::Partition { held, .. }
            | Fault::OutOfMemory { held } => *held,
            Fault::Flush | Fault::Corrupt(_) => Duration::ZERO,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |d: &Duration| format!("{:.1} s", d.as_secs_f64());
        match self {
            Fault::Kill { down } => write!(f, "kill -9 Redis, down {}", s(down)),
            Fault::Freeze { held } => write!(f, "freeze Redis (SIGSTOP) {}", s(held)),
            Fault::Flap { down } => write!(f, "flap Redis (down {}, rejoin, down again)", s(down)),
            Fault::Flush => write!(f, "FLUSHALL"),
            Fault::RestartFromDump { down } => write!(f, "restart Redis from an older dump, down {}", s(down)),
            Fault::Slow { sidecars, latency, held } => {
                write!(f, "replies to sidecars {sidecars:?} +{} ms for {}", latency.as_millis(), s(held))
            }
            Fault::Partition { sidecars, held } => write!(f, "partition sidecars {sidecars:?} from Redis {}", s(held)),
            Fault::OutOfMemory { held } => write!(f, "Redis out of memory {}", s(held)),
            Fault::Corrupt(Corruption::Pace { field, value }) => write!(f, "corrupt pace:OP {field}={value}"),
            Fault::Corrupt(Corruption::MembersType) => write!(f, "corrupt members (a string)"),
            Fault::Corrupt(Corruption::Outcome { field }) => write!(f, "corrupt outcome:TOKEN {field}=garbage"),
            Fault::Corrupt(Corruption::Poll { field, value }) => {
                write!(f, "corrupt poll:… {field}={}", String::from_utf8_lossy(value))
            }
        }
    }
}

/// The faults of a run and when each begins (seconds after the run began).
#[derive(Debug, Clone)]
pub struct Plan {
    pub steps: Vec<(f64, Fault)>,
    sidecars: usize,
    seed: u64,
}

const GARBAGE: &[u8] = b"\xff\xfe\x00garbage\x80";
const PACE: &[(&str, &str)] = &[
    ("rate", "-1"),
    ("rate", "nan"),
    ("rate", "1e-9"),
    ("rate", "1e308"),
    ("rate", "inf"),
    ("rate", "garbage"),
    ("tat", "1e30"),
    ("tat", "-1e18"),
    ("tat", "nan"),
];
const POLL: &[(&str, &[u8])] = &[("result", GARBAGE), ("at", b"99999999999999"), ("fresh", b"1e15")];
const OUTCOME: &[&str] = &["out", "fp", "state"];

impl Plan {
    /// A schedule for a run of `seconds` over `sidecars` sidecars, from `seed`.
    pub fn new(seed: u64, seconds: f64, sidecars: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut steps = Vec::new();
        let mut at = 2.0 + rng.random_range(0.0..1.0);
        while at < seconds - 1.0 {
            let fault = draw(&mut rng, sidecars);
            let span = fault.span().as_secs_f64();
            steps.push((at, fault));
            at += span + rng.random_range(0.5..2.5);
        }
        Self { steps, sidecars, seed }
    }
}

fn secs(rng: &mut StdRng, from: f64, to: f64) -> Duration {
    Duration::from_secs_f64(rng.random_range(from..to))
}

/// Some sidecars: usually one, sometimes all but one, now and then all.
fn some(rng: &mut StdRng, sidecars: usize) -> Vec<usize> {
    let count = match rng.random_range(0..10) {
        0..=5 => 1,
        6..=8 => sidecars.saturating_sub(1).max(1),
        _ => sidecars,
    };
    let mut all: Vec<usize> = (0..sidecars).collect();
    let mut chosen = Vec::new();
    for _ in 0..count {
        chosen.push(all.remove(rng.random_range(0..all.len())));
    }
    chosen.sort_unstable();
    chosen
}

fn draw(rng: &mut StdRng, sidecars: usize) -> Fault {
    match rng.random_range(0..100) {
        0..=9 => Fault::Kill { down: secs(rng, 1.0, 4.0) },
        10..=23 => Fault::Freeze { held: secs(rng, 2.0, 6.0) },
        24..=31 => Fault::Flap { down: secs(rng, 0.5, 2.0) },
        32..=37 => Fault::Flush,
        38..=45 => Fault::RestartFromDump { down: secs(rng, 0.3, 2.0) },
        46..=55 => Fault::Slow {
            sidecars: some(rng, sidecars),
            latency: Duration::from_millis(rng.random_range(100..800)),
            held: secs(rng, 2.0, 6.0),
        },
        56..=69 => Fault::Partition { sidecars: some(rng, sidecars), held: secs(rng, 2.0, 6.0) },
        70..=75 => Fault::OutOfMemory { held: secs(rng, 2.0, 5.0) },
        76..=84 => {
            let (field, value) = PACE[rng.random_range(0..PACE.len())];
            Fault::Corrupt(Corruption::Pace { field, value })
        }
        85..=87 => Fault::Corrupt(Corruption::MembersType),
        88..=93 => Fault::Corrupt(Corruption::Outcome { field: OUTCOME[rng.random_range(0..OUTCOME.len())] }),
        _ => {
            let (field, value) = POLL[rng.random_range(0..POLL.len())];
            Fault::Corrupt(Corruption::Poll { field, value })
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "nemesis schedule (seed {}, {} sidecars):", self.seed, self.sidecars)?;
        for (at, fault) in &self.steps {
            writeln!(f, "  {at:6.2} s  {fault}")?;
        }
        Ok(())
    }
}

/// Carries out a plan against one Redis and the sidecars' proxies.
pub struct Nemesis {
    redis: RedisServer,
    proxies: Vec<Arc<Proxy>>,
    recorder: Recorder,
    rng: StdRng,
    /// Dumps saved so far, with when (seconds after the run began).
    dumps: Vec<(f64, PathBuf)>,
}

impl Nemesis {
    /// A nemesis over `redis` (started with a dump directory) and `proxies`
    /// (one per sidecar, in the sidecars' order).
    pub fn new(redis: RedisServer, proxies: Vec<Arc<Proxy>>, recorder: Recorder, seed: u64) -> Self {
        Self { redis, proxies, recorder, rng: StdRng::seed_from_u64(seed ^ 0x6e656d65), dumps: Vec::new() }
    }

    /// Carries out `plan` on a thread of its own, each fault at its time on
    /// the history's clock; the thread heals everything at the end and hands
    /// Redis back.
    pub fn start(mut self, plan: Plan) -> JoinHandle<RedisServer> {
        std::thread::spawn(move || {
            self.dump_now();
            for (at, fault) in &plan.steps {
                std::thread::sleep(Duration::from_secs_f64((at - self.recorder.now()).max(0.0)));
                let mark = self.recorder.fault(fault.to_string());
                let note = self.carry_out(fault);
                if let Some(note) = note {
                    self.recorder.note(mark, &note);
                }
                self.recorder.healed(mark);
                if self.rng.random_bool(0.5) {
                    self.dump_now();
                }
            }
            self.heal();
            self.redis
        })
    }

    /// Saves a dump to restart from later.
    fn dump_now(&mut self) {
        let at = self.recorder.now();
        let dump = self.redis.save();
        self.dumps.push((at, dump));
    }

    /// A dump saved at least 3 s ago (the oldest if none is that old).
    fn older_dump(&mut self) -> (f64, PathBuf) {
        let now = self.recorder.now();
        let old: Vec<&(f64, PathBuf)> = self.dumps.iter().filter(|(at, _)| now - at >= 3.0).collect();
        match old.len() {
            0 => self.dumps[0].clone(),
            n => old[self.rng.random_range(0..n)].clone(),
        }
    }

    fn set_proxies(&self, sidecars: &[usize], mode: Mode) {
        for &i in sidecars {
            self.proxies[i].set(mode);
        }
    }

    /// Carries out one fault and heals it; what it did, when worth a note.
    fn carry_out(&mut self, fault: &Fault) -> Option<String> {
        match fault {
            Fault::Kill { down } => {
                self.redis.kill9();
                std::thread::sleep(*down);
                self.redis.restart();
            }
            Fault::Freeze { held } => {
                self.redis.signal("-STOP");
                std::thread::sleep(*held);
                self.redis.signal("-CONT");
            }
            Fault::Flap { down } => {
                self.redis.kill9();
                std::thread::sleep(*down);
                self.redis.restart();
                let rejoined = self.until_members(Duration::from_secs(10));
                self.redis.kill9();
                std::thread::sleep(*down);
                self.redis.restart();
                return Some(format!("every sidecar rejoined after {:.2} s, killed again", rejoined.as_secs_f64()));
            }
            Fault::Flush => self.redis.flushall(),
            Fault::RestartFromDump { down } => {
                let (at, dump) = self.older_dump();
                self.redis.kill9();
                std::thread::sleep(*down);
                self.redis.restart_from(&dump);
                return Some(format!("from the dump of {at:.2} s"));
            }
            Fault::Slow { sidecars, latency, held } => {
                self.set_proxies(sidecars, Mode { reply_latency: *latency, blackhole: false });
                std::thread::sleep(*held);
                self.set_proxies(sidecars, Mode::default());
            }
            Fault::Partition { sidecars, held } => {
                self.set_proxies(sidecars, Mode { reply_latency: Duration::ZERO, blackhole: true });
                std::thread::sleep(*held);
                self.set_proxies(sidecars, Mode::default());
            }
            Fault::OutOfMemory { held } => {
                self.redis.out_of_memory(true);
                std::thread::sleep(*held);
                self.redis.out_of_memory(false);
            }
            Fault::Corrupt(corruption) => return Some(self.corrupt(*corruption)),
        }
        None
    }

    /// Waits until every sidecar is a member (at most `bound`); how long it took.
    fn until_members(&self, bound: Duration) -> Duration {
        let began = Instant::now();
        let members = format!("{TAG}:members");
        while began.elapsed() < bound {
            let count: usize = self.redis.cli(&["ZCARD", &members]).parse().unwrap_or(0);
            if count >= self.proxies.len() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        began.elapsed()
    }

    /// One of the keys matching `pattern`, if any.
    fn some_key(&mut self, pattern: &str) -> Option<String> {
        let keys: Vec<String> = self.redis.keys(pattern).into_iter().filter(|k| !k.ends_with(":lease")).collect();
        (!keys.is_empty()).then(|| keys[self.rng.random_range(0..keys.len())].clone())
    }

    /// Writes `corruption` into an existing key; which, or why none.
    fn corrupt(&mut self, corruption: Corruption) -> String {
        let (pattern, field, value): (String, &str, &[u8]) = match corruption {
            Corruption::Pace { field, value } => {
                // The starts' budget most often: its peak is what the quota sees.
                let start = format!("{TAG}:pace:StartStreamSession");
                let pattern = if self.rng.random_bool(0.6) { start } else { format!("{TAG}:pace:*") };
                (pattern, field, value.as_bytes())
            }
            Corruption::MembersType => {
                let key = format!("{TAG}:members");
                return match self.redis.corrupt_type(&key) {
                    Ok(()) => format!("{key} is a string now"),
                    Err(e) => format!("{key} not corrupted: {e}"),
                };
            }
            Corruption::Outcome { field } => (format!("{TAG}:outcome:*"), field, GARBAGE),
            Corruption::Poll { field, value } => (format!("{TAG}:poll:*"), field, value),
        };
        let Some(key) = self.some_key(&pattern) else { return format!("no key matches {pattern}") };
        match self.redis.corrupt_field(&key, field, value) {
            Ok(()) => format!("{key} {field} corrupted"),
            Err(e) => format!("{key} not corrupted: {e}"),
        }
    }

    /// Everything back to normal but the corrupted values: Redis running
    /// and answering, every proxy forwarding, memory unlimited.
    fn heal(&mut self) {
        let mark = self.recorder.fault("heal: Redis up, proxies forwarding, memory unlimited".into());
        for proxy in &self.proxies {
            proxy.heal();
        }
        if !self.redis.running() {
            self.redis.restart();
        }
        self.redis.out_of_memory(false);
        self.recorder.healed(mark);
    }
}
