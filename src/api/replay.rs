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
use crate::sessions::idempotency::{Begin, Fingerprint, IdempotencyStore, Key, StoreLimits, StoreStats};

type Stored = Result<Bytes, ApiError>;

/// The gateway's idempotency keys and the outcomes they map to.
pub struct Idempotency {
    namespace: String,
    store: Arc<IdempotencyStore<Stored>>,
}

/// Whether an error is final: a retry with the same parameters cannot succeed,
/// so it is kept and replayed. Throttling, 5xx, timeouts, conflicts (state that
/// can change), quotas and credential problems are not.
fn is_final(err: &ApiError) -> bool {
    match err {
        ApiError::InvalidArgument(_) | ApiError::KeyReused => true,
        ApiError::Internal(_) | ApiError::SessionEnded(_) | ApiError::NotReady { .. } | ApiError::WatchClosed => false,
        ApiError::Call(f) => f.error.class().replayable(),
    }
}

fn vanished() -> ApiError {
    ApiError::Internal("the first call with this request_id ended without an answer; retry".into())
}

fn decode<T: Message + Default>(stored: Stored) -> Result<T, ApiError> {
    stored.and_then(|bytes| T::decode(bytes).map_err(|e| ApiError::Internal(format!("stored response: {e}"))))
}

impl Idempotency {
    /// Keys in `namespace`, outcomes kept within `limits`.
    pub fn new(namespace: String, limits: StoreLimits) -> Self {
        Self { namespace, store: IdempotencyStore::new(limits) }
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
        let waiter = match self.store.begin(key, fingerprint, Instant::now()) {
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
        decode(waiter.outcome().await.unwrap_or_else(|| Err(vanished())))
    }
}
