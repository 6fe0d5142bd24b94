//! Mutating RPCs at most once per `request_id`: the first call with a key runs
//! (in its own task, so a caller that hangs up does not abandon it), calls with
//! the same key and parameters join it or replay its final outcome, and the same
//! key with other parameters is refused. Transient failures are not kept, so a
//! retry can succeed. Responses are kept encoded, to keep entries small; the
//! first caller gets its answer as it is, never encoded and decoded again.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::Instrument;

use super::status::ApiError;
use crate::sessions::idempotency::{
    Begin, Fingerprint, IdempotencyStore, Key, OutcomeStore, Portable, StoreLimits, StoreStats,
};
use crate::sessions::resilience::GiveUp;

/// An outcome as the store keeps it: a response encoded, or the error.
pub type Stored = Result<Bytes, ApiError>;

/// A response as a shared store holds it (the tag, then its encoding).
const RESPONSE: u8 = b'R';
/// An error as a shared store holds it (the tag, then its JSON).
const ERROR: u8 = b'E';

/// Outcomes cross processes whole (a fleet's shared store): a replay or a
/// joiner on another sidecar gets the same response, or the same error with
/// its code, reason, message and details.
impl Portable for Stored {
    fn to_bytes(&self) -> Option<Bytes> {
        let (tag, body) = match self {
            Ok(response) => (RESPONSE, response.to_vec()),
            Err(err) => (ERROR, serde_json::to_vec(err).ok()?),
        };
        let mut bytes = Vec::with_capacity(1 + body.len());
        bytes.push(tag);
        bytes.extend(body);
        Some(Bytes::from(bytes))
    }

    fn from_bytes(bytes: Bytes) -> Option<Self> {
        match *bytes.first()? {
            RESPONSE => Some(Ok(bytes.slice(1..))),
            ERROR => serde_json::from_slice(&bytes[1..]).ok().map(Err),
            _ => None,
        }
    }
}

/// The gateway's idempotency keys and the outcomes they map to.
pub struct Idempotency {
    namespace: String,
    store: Arc<dyn OutcomeStore<Stored>>,
}

/// Whether an error is final: a retry with the same parameters cannot succeed
/// (or must not be made), so it is kept and replayed. Throttling, 5xx, timeouts, conflicts (state that
/// can change), quotas and credential problems are not.
fn is_final(err: &ApiError) -> bool {
    match err {
        ApiError::InvalidArgument(_) | ApiError::KeyReused => true,
        ApiError::Internal(_) | ApiError::SessionEnded(_) | ApiError::NotReady { .. } | ApiError::WatchClosed => false,
        // An answer lost of a call that cannot be sent again is all a repeat
        // may learn: sending it again could make a second stage.
        ApiError::Call(f) => f.error.class().replayable() || f.gave_up == GiveUp::Unrepeatable,
    }
}

fn vanished() -> ApiError {
    ApiError::Internal("the call with this request_id ended without an answer; retry".into())
}

fn decode<T: Message + Default>(stored: Stored) -> Result<T, ApiError> {
    stored.and_then(|bytes| T::decode(bytes).map_err(|e| ApiError::Internal(format!("stored response: {e}"))))
}

impl Idempotency {
    /// Keys in `namespace`, outcomes kept in `store`.
    pub fn new(namespace: String, store: Arc<dyn OutcomeStore<Stored>>) -> Self {
        Self { namespace, store }
    }

    /// Keys in `namespace`, outcomes kept in the process within `limits`.
    pub fn in_process(namespace: String, limits: StoreLimits) -> Self {
        Self::new(namespace, Arc::new(IdempotencyStore::new(limits)))
    }

    /// Joins, replays and conflicts so far, and the outcomes kept now.
    pub fn stats(&self) -> StoreStats {
        self.store.stats()
    }

    /// The key of a call: from its `request_id`, or a fresh one when empty (so
    /// the retries of this one call still share a ClientToken).
    pub fn key(&self, operation: &str, request_id: &str) -> Key {
        if request_id.is_empty() {
            Key::new(&self.namespace, operation, &uuid::Uuid::new_v4().to_string())
        } else {
            Key::new(&self.namespace, operation, request_id)
        }
    }

    /// Runs the work `prepare` builds (given the ClientToken derived from
    /// `request_id`) once per `request_id` of `operation` among calls with the
    /// same `params` (the request without its `request_id`).
    pub async fn once<T, F>(
        &self,
        operation: &str,
        request_id: &str,
        params: &impl Message,
        prepare: impl FnOnce(String) -> Result<F, ApiError>,
    ) -> Result<T, ApiError>
    where
        T: Message + Default + Send + 'static,
        F: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let key = self.key(operation, request_id);
        let work = prepare(key.client_token())?;
        self.run(key, !request_id.is_empty(), params, work).await
    }

    /// Runs `work` once for `key` among calls with the same `params` (the
    /// request without its `request_id`). Without a caller's `request_id`
    /// nothing is kept.
    pub async fn run<T, F>(&self, key: Key, has_request_id: bool, params: &impl Message, work: F) -> Result<T, ApiError>
    where
        T: Message + Default + Send + 'static,
        F: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        if !has_request_id {
            return work.await;
        }
        let fingerprint = Fingerprint::of(&params.encode_to_vec());
        let waiter = match self.store.begin(key, fingerprint, Instant::now()).await {
            Begin::Replay(stored) => return decode(stored),
            Begin::Reused => return Err(ApiError::KeyReused),
            Begin::Join(waiter) => waiter,
            Begin::Lead(leader) => {
                // The first caller takes the outcome as it is; only the stored copy is encoded.
                let (first, outcome) = oneshot::channel();
                tokio::spawn(
                    async move {
                        let outcome = work.await;
                        let keep = outcome.as_ref().map_or_else(is_final, |_| true);
                        let stored = outcome.as_ref().map(|t| Bytes::from(t.encode_to_vec())).map_err(Clone::clone);
                        leader.finish(stored, keep, Instant::now());
                        let _ = first.send(outcome);
                    }
                    .in_current_span(),
                );
                return outcome.await.unwrap_or_else(|_| Err(vanished()));
            }
        };
        // The first call ended without an outcome this caller can read (its
        // sidecar died, or the shared store failed): the call is made again, with
        // the same ClientToken, so GameLift Streams answers what it answered it.
        match waiter.outcome().await {
            Some(stored) => decode(stored),
            None => work.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::api::status::to_status;
    use crate::proto::v1 as pb;
    use crate::sessions::idempotency::Waiter;
    use crate::sessions::{at_once, Soon};

    /// A store that has every key: finished, or in flight elsewhere.
    struct Remote {
        in_flight: bool,
        arn: &'static str,
    }

    impl OutcomeStore<Stored> for Remote {
        fn begin(&self, _: Key, _: Fingerprint, _: Instant) -> Soon<'_, Begin<Stored>> {
            let session = pb::StreamSession { arn: self.arn.into(), ..Default::default() };
            let stored: Stored =
                Ok(Bytes::from(pb::StartStreamSessionResponse { stream_session: Some(session) }.encode_to_vec()));
            let begin = if self.in_flight {
                Begin::Join(Waiter::new(async move { Some(stored) }))
            } else {
                Begin::Replay(stored)
            };
            at_once(begin)
        }

        fn stats(&self) -> StoreStats {
            StoreStats::default()
        }
    }

    /// What a caller reads of a status: code, message, every detail but
    /// ErrorInfo as it is, and ErrorInfo decoded (its metadata is a map, in
    /// no fixed order on the wire).
    #[derive(Debug, PartialEq)]
    struct Seen {
        code: tonic::Code,
        message: String,
        details: Vec<(String, Vec<u8>)>,
        info: Option<tonic_types::pb::ErrorInfo>,
    }

    fn seen(status: &tonic::Status) -> Seen {
        let is_info = |d: &prost_types::Any| d.type_url.ends_with("/google.rpc.ErrorInfo");
        let all = tonic_types::pb::Status::decode(status.details()).expect("google.rpc.Status").details;
        let info = all.iter().find(|d| is_info(d));
        let info = info.map(|d| tonic_types::pb::ErrorInfo::decode(d.value.as_slice()).expect("ErrorInfo"));
        let details = all.into_iter().filter(|d| !is_info(d)).map(|d| (d.type_url, d.value)).collect();
        Seen { code: status.code(), message: status.message().to_string(), details, info }
    }

    #[test]
    fn every_outcome_crosses_processes_whole() {
        let ctx = crate::api::status::CallContext::new("StartStreamSession", "StreamGroup", "sg-1");
        let response: Stored = Ok(Bytes::from_static(b"\x0a\x03arn"));
        let back = Stored::from_bytes(response.to_bytes().expect("portable")).expect("readable");
        assert_eq!(back.ok(), response.ok());
        let errors = crate::api::contract::sample_errors();
        assert!(errors.len() > 20);
        for err in errors {
            let stored: Stored = Err(err.clone());
            let Some(Err(back)) = Stored::from_bytes(stored.to_bytes().expect("portable")) else {
                panic!("{err} came back as a success");
            };
            let (before, after) = (to_status(&err, &ctx), to_status(&back, &ctx));
            assert_eq!(seen(&after), seen(&before), "{err}");
        }
        for garbage in [&b""[..], b"E", b"E{not json", b"E{\"KeyReused\":1}", b"Xanything"] {
            let read = Stored::from_bytes(Bytes::copy_from_slice(garbage));
            assert!(read.is_none(), "{garbage:?} read as {read:?}");
        }
    }

    /// A store whose every key is in flight in a call that ends without an
    /// outcome (its sidecar died).
    struct Vanishing;

    impl OutcomeStore<Stored> for Vanishing {
        fn begin(&self, _: Key, _: Fingerprint, _: Instant) -> Soon<'_, Begin<Stored>> {
            at_once(Begin::Join(Waiter::new(async { None })))
        }

        fn stats(&self) -> StoreStats {
            StoreStats::default()
        }
    }

    #[tokio::test]
    async fn a_joiner_whose_leader_vanished_makes_the_call_itself() {
        let replay = Idempotency::new("ns".into(), Arc::new(Vanishing));
        let key = replay.key("StartStreamSession", "r-1");
        let session = pb::StreamSession { arn: "arn-made-again".into(), ..Default::default() };
        let work = async move { Ok(pb::StartStreamSessionResponse { stream_session: Some(session) }) };
        let out = replay.run(key, true, &pb::StartStreamSessionRequest::default(), work).await.expect("an answer");
        assert_eq!(out.stream_session.map(|s| s.arn).as_deref(), Some("arn-made-again"));
    }

    #[tokio::test]
    async fn an_outcome_the_store_holds_is_answered_without_running_the_call() {
        for (in_flight, arn) in [(false, "arn-replayed"), (true, "arn-joined")] {
            let replay = Idempotency::new("ns".into(), Arc::new(Remote { in_flight, arn }));
            let ran = Arc::new(AtomicBool::new(false));
            let work = {
                let ran = ran.clone();
                async move {
                    ran.store(true, Ordering::SeqCst);
                    Ok(pb::StartStreamSessionResponse::default())
                }
            };
            let key = replay.key("StartStreamSession", "r-1");
            let out = replay.run(key, true, &pb::StartStreamSessionRequest::default(), work).await.expect("an answer");
            assert_eq!(out.stream_session.map(|s| s.arn).as_deref(), Some(arn));
            assert!(!ran.load(Ordering::SeqCst), "the call ran although the store had its outcome");
        }
    }
}
