//! Memory and latency of the idempotency store with 1,000,000 distinct keys,
//! holding encoded StartStreamSession responses as the gateway does. Memory is
//! counted by a counting allocator (exact, not RSS); latencies are medians of
//! batches of 10,000 operations. Run: `cargo bench --bench idempotency`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::sessions::idempotency::{
    Begin, Fingerprint, IdempotencyStore, Key, OutcomeStore, StoreLimits, DEFAULT_NAMESPACE,
};
use prost::Message;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const KEYS: usize = 1_000_000;
const BATCH: usize = 10_000;

/// A StartStreamSession response as the gateway keeps it (signal request stripped).
fn response(i: usize) -> Bytes {
    let t = prost_types::Timestamp { seconds: 1_795_000_000 + i as i64, nanos: 0 };
    let session = pb::StreamSession {
        arn: format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-000000001/S{i:012}"),
        stream_group_id: "sg-000000001".into(),
        status: pb::StreamSessionStatus::Activating.into(),
        protocol: pb::Protocol::Webrtc.into(),
        location: "us-west-2".into(),
        connection_timeout_seconds: 120,
        session_length_seconds: 43_200,
        application_arn: "arn:aws:gameliftstreams:us-west-2:111122223333:application/a-000000001".into(),
        user_id: format!("player-{i}"),
        created_at: Some(t),
        last_updated_at: Some(t),
        ..Default::default()
    };
    Bytes::from(pb::StartStreamSessionResponse { stream_session: Some(session) }.encode_to_vec())
}

fn key(i: usize) -> Key {
    Key::new(DEFAULT_NAMESPACE, "StartStreamSession", &format!("request-{i:08}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let fingerprint = Fingerprint::of(b"the request's parameters");
    let other = Fingerprint::of(b"other parameters");
    let limits = StoreLimits { retention: Duration::from_secs(3600), max_entries: KEYS };
    let keys: Vec<Key> = (0..KEYS).map(key).collect();

    // Memory: a store filled with responses made on the fly, so nothing else holds them.
    let before = LIVE.load(Ordering::Relaxed);
    let measured = IdempotencyStore::<Result<Bytes, ()>>::new(limits.clone());
    let mut value_bytes = 0;
    for (i, k) in keys.iter().enumerate() {
        let value = response(i);
        value_bytes += value.len();
        let now = tokio::time::Instant::now();
        let Begin::Lead(leader) = measured.begin_now(*k, fingerprint, now) else { panic!("new key") };
        leader.finish(Ok(value), true, now);
    }
    let store_bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(measured);

    // Latency: responses made beforehand, so only the store is timed.
    let values: Vec<Bytes> = (0..KEYS).map(response).collect();
    let store = IdempotencyStore::<Result<Bytes, ()>>::new(limits);
    let mut insert = Vec::new();
    for batch in 0..KEYS / BATCH {
        let started = Instant::now();
        for i in batch * BATCH..(batch + 1) * BATCH {
            let now = tokio::time::Instant::now();
            let Begin::Lead(leader) = store.begin_now(keys[i], fingerprint, now) else { panic!("new key") };
            leader.finish(Ok(values[i].clone()), true, now);
        }
        insert.push(started.elapsed().as_nanos() as f64 / BATCH as f64);
    }

    let mut replay = Vec::new();
    let mut conflict = Vec::new();
    for batch in 0..KEYS / BATCH {
        let range = batch * BATCH..(batch + 1) * BATCH;
        let started = Instant::now();
        for i in range.clone() {
            let Begin::Replay(_) = store.begin_now(keys[i], fingerprint, tokio::time::Instant::now()) else {
                panic!("kept")
            };
        }
        replay.push(started.elapsed().as_nanos() as f64 / BATCH as f64);
        let started = Instant::now();
        for i in range {
            let Begin::Reused = store.begin_now(keys[i], other, tokio::time::Instant::now()) else { panic!("reused") };
        }
        conflict.push(started.elapsed().as_nanos() as f64 / BATCH as f64);
    }

    let entries = store.stats().entries;
    assert_eq!(entries, KEYS);
    let per_entry = store_bytes as f64 / KEYS as f64;
    let (insert, replay, conflict) = (median(insert), median(replay), median(conflict));
    println!("idempotency store: {KEYS} distinct keys, responses {} bytes encoded on average", value_bytes / KEYS);
    println!(
        "memory: {:.1} MiB for the store, {per_entry:.0} bytes per entry ({:.0} of them the response)",
        store_bytes as f64 / (1024.0 * 1024.0),
        value_bytes as f64 / KEYS as f64
    );
    println!("latency, median of {} batches of {BATCH}:", KEYS / BATCH);
    println!("  first call (lead + finish): {insert:.0} ns/op");
    println!("  replay of a kept outcome:   {replay:.0} ns/op");
    println!("  reused key refused:         {conflict:.0} ns/op");
    println!("ratio first call / replay: {:.2}", insert / replay);
}
