//! The retry loop on tokio's paused clock with scripted failures: exact attempt
//! counts, deadlines, the budget and the limiter, without sleeping for real.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::pacing::{Mark, SlotId};
use super::*;

fn upstream(kind: UpstreamKind, code: &str) -> SessionError {
    SessionError::Upstream { kind, code: code.into(), message: "scripted".into(), request_id: None }
}

fn policy() -> RetryPolicy {
    RetryPolicy { ceilings: HashMap::new(), ..RetryPolicy::default() }
}

/// Runs one call whose attempts fail with `error` the first `failures` times.
async fn run(
    r: &Resilience,
    failures: u32,
    error: SessionError,
    deadline: Option<Instant>,
) -> (Result<(), CallFailure>, u32) {
    let count = Arc::new(AtomicU32::new(0));
    let result = r
        .call("GetStreamSession", deadline, || {
            let count = count.clone();
            let error = error.clone();
            async move {
                if count.fetch_add(1, Ordering::SeqCst) < failures {
                    Err(error)
                } else {
                    Ok(())
                }
            }
        })
        .await;
    (result, count.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn each_error_class_gets_exactly_its_attempts() {
    let cases = [
        (upstream(UpstreamKind::Throttling, "ThrottlingException"), 3),
        (upstream(UpstreamKind::Internal, "InternalServerException"), 3),
        (SessionError::Connection("reset".into()), 3),
        (SessionError::Timeout, 3),
        (upstream(UpstreamKind::Validation, "ValidationException"), 1),
        (upstream(UpstreamKind::NotFound, "ResourceNotFoundException"), 1),
        (upstream(UpstreamKind::Conflict, "ConflictException"), 1),
        (upstream(UpstreamKind::AccessDenied, "AccessDeniedException"), 1),
        (upstream(UpstreamKind::QuotaExceeded, "ServiceQuotaExceededException"), 1),
        (upstream(UpstreamKind::Unauthenticated, "ExpiredTokenException"), 1),
        (SessionError::Credentials("none".into()), 1),
    ];
    for (error, expected) in cases {
        let r = Resilience::with_seed(policy(), 1);
        let (result, attempts) = run(&r, u32::MAX, error.clone(), None).await;
        let failure = result.expect_err("always fails");
        assert_eq!((attempts, failure.attempts), (expected, expected), "{error}");
        let gave_up = if expected == 1 { GiveUp::NotRetryable } else { GiveUp::AttemptsExhausted };
        assert_eq!(failure.gave_up, gave_up, "{error}");
        assert_eq!(r.stats().counters.attempts["GetStreamSession"], u64::from(expected));
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_attempt_is_cut_at_the_attempt_timeout_and_retried() {
    let r = Resilience::with_seed(RetryPolicy { attempt_timeout: Duration::from_secs(2), ..policy() }, 1);
    let started = Instant::now();
    let count = AtomicU32::new(0);
    let result: Result<(), CallFailure> = r
        .call("GetStreamSession", None, || {
            count.fetch_add(1, Ordering::SeqCst);
            std::future::pending()
        })
        .await;
    let failure = result.expect_err("never answers");
    assert!(matches!(failure.error, SessionError::Timeout));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert!(started.elapsed() >= Duration::from_secs(6));
}

#[tokio::test(start_paused = true)]
async fn the_callers_deadline_is_never_passed() {
    let r = Resilience::with_seed(RetryPolicy { max_attempts: 10, ..policy() }, 3);
    let started = Instant::now();
    let deadline = started + Duration::from_millis(300);
    let (result, attempts) =
        run(&r, u32::MAX, upstream(UpstreamKind::Throttling, "ThrottlingException"), Some(deadline)).await;
    let failure = result.expect_err("always throttled");
    assert!(Instant::now() <= deadline, "returned {:?} after the deadline", Instant::now() - deadline);
    assert_eq!(failure.gave_up, GiveUp::Deadline);
    assert!(failure.retry_after.is_some());
    assert!((2..10).contains(&attempts), "{attempts}");
}

#[tokio::test(start_paused = true)]
async fn retries_end_at_the_first_success_and_pay_back_the_budget() {
    let r = Resilience::with_seed(policy(), 1);
    let (result, attempts) = run(&r, 2, upstream(UpstreamKind::Internal, "InternalServerException"), None).await;
    result.expect("third attempt succeeds");
    assert_eq!(attempts, 3);
    let stats = r.stats();
    assert_eq!(stats.counters.retries[&("GetStreamSession", "server_error")], 2);
    assert_eq!(stats.budget_level, 490, "two retries cost 20, the success returned the last 10");
}

#[tokio::test(start_paused = true)]
async fn the_budget_empties_under_sustained_failure_and_refills_after_success() {
    let r = Resilience::with_seed(RetryPolicy { budget_tokens: 20, ..policy() }, 1);
    let failing = || upstream(UpstreamKind::Internal, "InternalServerException");
    let (first, attempts) = run(&r, u32::MAX, failing(), None).await;
    assert_eq!((attempts, first.expect_err("fails").gave_up), (3, GiveUp::AttemptsExhausted));
    assert_eq!(r.stats().budget_level, 0);
    let (second, attempts) = run(&r, u32::MAX, failing(), None).await;
    assert_eq!((attempts, second.expect_err("fails").gave_up), (1, GiveUp::BudgetExhausted));
    for _ in 0..10 {
        run(&r, 0, failing(), None).await.0.expect("succeeds");
    }
    assert_eq!(r.stats().budget_level, 10);
    let (third, attempts) = run(&r, u32::MAX, failing(), None).await;
    assert_eq!((attempts, third.expect_err("fails").gave_up), (2, GiveUp::BudgetExhausted));
}

#[tokio::test(start_paused = true)]
async fn calls_wait_for_a_send_slot_but_not_past_their_deadline() {
    let ceilings = HashMap::from([("GetStreamSession".to_string(), 2.0)]);
    let r = Resilience::with_seed(RetryPolicy { ceilings, ..policy() }, 1);
    let t0 = Instant::now();
    run(&r, 0, SessionError::Timeout, None).await.0.expect("first slot is free");
    run(&r, 0, SessionError::Timeout, None).await.0.expect("second slot after 500 ms");
    assert_eq!(Instant::now() - t0, Duration::from_millis(500));
    let deadline = Some(Instant::now() + Duration::from_millis(100));
    let (result, attempts) = run(&r, 0, SessionError::Timeout, deadline).await;
    let failure = result.expect_err("no slot before the deadline");
    assert_eq!(attempts, 0, "nothing was sent");
    assert!(matches!(failure.error, SessionError::RateLimited));
    assert_eq!(failure.retry_after, Some(Duration::from_millis(500)));
    let give_ups = r.stats().counters.give_ups;
    assert_eq!(give_ups.get(&("GetStreamSession", "rate_limited")), Some(&1), "counted apart: {give_ups:?}");
    run(&r, 0, SessionError::Timeout, None).await.0.expect("the cancelled slot is free again");
    assert_eq!(Instant::now() - t0, Duration::from_millis(1000));
}

#[tokio::test(start_paused = true)]
async fn a_call_cancelled_while_it_waits_for_its_slot_gives_the_slot_back() {
    let ceilings = HashMap::from([("GetStreamSession".to_string(), 2.0)]);
    let r = Resilience::with_seed(RetryPolicy { ceilings, ..policy() }, 1);
    let t0 = Instant::now();
    run(&r, 0, SessionError::Timeout, None).await.0.expect("first slot is free");
    let gave_up = tokio::time::timeout(Duration::from_millis(100), run(&r, 0, SessionError::Timeout, None)).await;
    assert!(gave_up.is_err(), "the caller went away while waiting for the slot at 500 ms");
    run(&r, 0, SessionError::Timeout, None).await.0.expect("the slot the cancelled call held");
    assert_eq!(Instant::now() - t0, Duration::from_millis(500), "not 1000 ms: nobody holds the cancelled slot");
}

#[tokio::test(start_paused = true)]
async fn throttling_lowers_the_operations_send_rate() {
    let ceilings = HashMap::from([("GetStreamSession".to_string(), 20.0)]);
    let r = Resilience::with_seed(RetryPolicy { ceilings, ..policy() }, 1);
    run(&r, 0, SessionError::Timeout, None).await.0.expect("ok");
    assert_eq!(r.stats().limiter_rates["GetStreamSession"], 20.0);
    let _ = run(&r, 1, upstream(UpstreamKind::Throttling, "ThrottlingException"), None).await;
    let rate = r.stats().limiter_rates["GetStreamSession"];
    // Cut to 14/s by the throttle, then growing back (CUBIC) after the retry's success.
    assert!((20.0 * limiter::BETA..20.0).contains(&rate), "{rate}");
    assert_eq!(r.stats().counters.throttles["GetStreamSession"], 1);
}

#[tokio::test(start_paused = true)]
async fn a_due_slot_is_taken_without_a_trip_through_the_timer() {
    use futures_util::FutureExt;
    let r = Resilience::with_seed(RetryPolicy::default(), 1);
    let first = r.call("GetStreamSession", None, || async { Ok::<_, SessionError>(()) }).now_or_never();
    assert!(matches!(first, Some(Ok(()))), "the first call of an idle limiter completes on its first poll");
    let second = r.call("GetStreamSession", None, || async { Ok::<_, SessionError>(()) }).now_or_never();
    assert!(second.is_none(), "the next slot is 50 ms away at 20/s: that call waits");
}

/// A pacing that hands out one slot a second from its start, and logs what
/// the retry layer tells it.
#[derive(Debug)]
struct EverySecond {
    start: Instant,
    next: Mutex<u32>,
    log: Mutex<Vec<String>>,
}

impl SendPacing for EverySecond {
    fn reserve(&self, op: &'static str, _: Instant) -> crate::sessions::Soon<'_, Option<Slot<'_>>> {
        let mut next = lock(&self.next);
        let at = self.start + Duration::from_secs(u64::from(*next));
        *next += 1;
        lock(&self.log).push(format!("reserve {op}"));
        let id = SlotId { at, mark: Mark::Local { start: at, end: at + Duration::from_secs(1) } };
        crate::sessions::at_once(Some(Slot::new(id, op, self)))
    }

    fn give_back(&self, op: &'static str, slot: &SlotId) {
        *lock(&self.next) -= 1;
        lock(&self.log).push(format!("give back {op} at {:?}", slot.at - self.start));
    }

    fn record(&self, op: &'static str, throttled: bool, _: Instant) {
        lock(&self.log).push(format!("record {op} throttled={throttled}"));
    }

    fn rate(&self, _: &'static str) -> Option<f64> {
        Some(1.0)
    }

    fn rates(&self) -> BTreeMap<String, f64> {
        BTreeMap::new()
    }
}

#[tokio::test(start_paused = true)]
async fn calls_send_when_the_pacing_seam_says_and_give_back_a_slot_they_cannot_use() {
    let start = Instant::now();
    let pacing = Arc::new(EverySecond { start, next: Mutex::new(0), log: Mutex::new(Vec::new()) });
    let r = Resilience::with_seed(policy(), 1).with_pacing(pacing.clone());
    let (result, attempts) = run(&r, 1, upstream(UpstreamKind::Throttling, "ThrottlingException"), None).await;
    assert_eq!((result.is_ok(), attempts), (true, 2));
    assert_eq!(Instant::now() - start, Duration::from_secs(1), "the retry waited for the second slot");
    let deadline = Some(Instant::now() + Duration::from_millis(500));
    let (result, attempts) = run(&r, 0, SessionError::Timeout, deadline).await;
    let failure = result.expect_err("the next slot is after the deadline");
    assert_eq!((attempts, failure.gave_up), (0, GiveUp::Deadline), "nothing sent");
    assert!(matches!(failure.error, SessionError::RateLimited), "{}", failure.error);
    let deadline = Some(start + Duration::from_secs(2) + SEND_GUARD / 2);
    let (result, attempts) = run(&r, 0, SessionError::Timeout, deadline).await;
    let failure = result.expect_err("the next slot leaves too little time before the deadline");
    assert_eq!((attempts, failure.gave_up), (0, GiveUp::Deadline), "nothing sent");
    assert_eq!(
        *lock(&pacing.log),
        [
            "reserve GetStreamSession",
            "record GetStreamSession throttled=true",
            "reserve GetStreamSession",
            "record GetStreamSession throttled=false",
            "reserve GetStreamSession",
            "give back GetStreamSession at 2s",
            "reserve GetStreamSession",
            "give back GetStreamSession at 2s",
        ]
    );
    assert_eq!(r.rate("GetStreamSession"), Some(1.0), "the rate comes from the seam");
}

#[tokio::test(start_paused = true)]
async fn half_the_calls_throttled_whatever_the_rate_still_lets_95_of_100_callers_through() {
    let ceilings = HashMap::from([("StartStreamSession".to_string(), 20.0)]);
    let r = Arc::new(Resilience::with_seed(RetryPolicy { ceilings, ..RetryPolicy::default() }, 5));
    let coin = Arc::new(Mutex::new(StdRng::seed_from_u64(11)));
    let start = Instant::now();
    let deadline = Some(start + Duration::from_secs(90));
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let (r, coin) = (r.clone(), coin.clone());
            tokio::spawn(async move {
                let attempt = || {
                    let throttled = lock(&coin).random_bool(0.5);
                    async move {
                        if throttled {
                            Err(upstream(UpstreamKind::Throttling, "ThrottlingException"))
                        } else {
                            Ok(())
                        }
                    }
                };
                r.call("StartStreamSession", deadline, attempt).await
            })
        })
        .collect();
    let mut succeeded = 0;
    for call in calls {
        succeeded += u32::from(call.await.expect("the call ran").is_ok());
    }
    let rate = r.rate("StartStreamSession").expect("paced");
    assert!(succeeded >= 95, "{succeeded} of 100 succeeded; the rate is {rate:.2}/s");
    assert!(rate >= 20.0 * limiter::BETA.powi(3), "the rate fell to {rate:.2}/s");
    assert!(Instant::now() - start < Duration::from_secs(60), "took {:?}", Instant::now() - start);
}

/// Sends `op` as work of `priority` and answers when it was sent.
async fn sent_at(r: &Resilience, priority: Priority) -> Instant {
    let at = Arc::new(Mutex::new(None));
    let sent = at.clone();
    r.call_limited("GetStreamSession", None, 1, priority, move || {
        *lock(&sent) = Some(Instant::now());
        async { Ok::<_, SessionError>(()) }
    })
    .await
    .expect("sent");
    let when = *lock(&at);
    when.expect("one attempt")
}

#[tokio::test(start_paused = true)]
async fn background_work_uses_the_slots_callers_leave_and_never_holds_a_caller_back_more_than_one() {
    let r = Arc::new(Resilience::with_seed(RetryPolicy::default(), 1));
    let start = Instant::now();
    // 40 polls queued at once and, 1 s in, 10 callers at once: at 20/s the
    // polls alone take 2 s.
    let polls: Vec<_> = (0..40)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move { sent_at(&r, Priority::Background).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let callers: Vec<_> = (0..10)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move { sent_at(&r, Priority::Caller).await })
        })
        .collect();
    let mut calls = Vec::new();
    for caller in callers {
        calls.push(caller.await.expect("caller") - start);
    }
    let mut polled = Vec::new();
    for poll in polls {
        polled.push(poll.await.expect("poll") - start);
    }
    calls.sort();
    polled.sort();
    let slot = Duration::from_millis(50);
    // The caller behind one poll's slot waits that slot; the others follow at
    // the ceiling, no poll between them.
    let expected: Vec<Duration> = (0..10).map(|i| Duration::from_secs(1) + slot * (i + 1)).collect();
    assert_eq!(calls, expected, "callers wait one slot for the poll sent at 1 s, then go in a row");
    assert_eq!(polled.iter().filter(|at| **at <= Duration::from_secs(1)).count(), 21, "polls use every free slot");
    assert!(polled.iter().all(|at| !calls.contains(at)), "no slot is used twice");
    assert_eq!(polled[39], Duration::from_millis(2450), "polls go on in the slots after the callers, none lost");
    let sends: Vec<Duration> = calls.iter().chain(&polled).copied().collect();
    for second in 0..3u32 {
        let window = Duration::from_secs(second.into())..Duration::from_secs((second + 1).into());
        assert!(sends.iter().filter(|at| window.contains(*at)).count() <= 20, "the ceiling holds");
    }
}

#[tokio::test(start_paused = true)]
async fn pollers_sending_back_to_back_share_the_free_slots_in_turn() {
    let r = Arc::new(Resilience::with_seed(RetryPolicy::default(), 1));
    let start = Instant::now();
    // Two pollers, each sending its next poll as soon as the last is sent.
    let poller = |r: Arc<Resilience>| async move {
        let mut sent = Vec::new();
        while sent.len() < 20 {
            sent.push(sent_at(&r, Priority::Background).await - start);
        }
        sent
    };
    let (a, b) = tokio::join!(tokio::spawn(poller(r.clone())), tokio::spawn(poller(r.clone())));
    let (a, b) = (a.expect("first poller"), b.expect("second poller"));
    let second = Duration::from_secs(1);
    // 40 polls at 20/s take 2 s: the pollers take the slots in turn, so each
    // has about half of the first second's 20 (the one that began first may
    // take two in a row before the other queues).
    let early = |sent: &[Duration]| sent.iter().filter(|at| **at < second).count();
    let (first, second) = (early(&a), early(&b));
    assert_eq!(first + second, 20, "every slot of the first second is used");
    assert!(first.abs_diff(second) <= 2, "{first} and {second} of the first 20: {a:?} {b:?}");
}
