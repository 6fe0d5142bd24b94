//! Stage reads shared by the fleet (fleet mode) through the same
//! [`PollResults`] seam the session watches use: before a stage's poller
//! reads IVS Real-Time it looks at what any sidecar's poller of the stage
//! read within the freshness interval; when nothing fresh is there, one
//! sidecar takes the read's fetch lease and reads for all. So however many
//! sidecars watch a stage, each of its reads is made about once an interval
//! for the fleet. A shared result is checked like any input: one that does
//! not decode, claims a time to come, or is older than what this sidecar
//! already applied is not used (the round is made again later).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use prost::Message;

use super::StageReads;
use crate::proto::ivs as pb;
use crate::sessions::resilience::GiveUp;
use crate::sessions::watch::shared::{Look, PollResults, Read, Shared};
use crate::sessions::{CallFailure, SessionError};
use crate::sync::lock;

/// How far ahead of this sidecar's clock a shared result's read time may be.
const CLOCK_SLACK: Duration = Duration::from_secs(5);

/// Stage reads through the shared results.
pub struct SharedStageReads {
    inner: Arc<dyn StageReads>,
    results: Arc<dyn PollResults>,
    fresh_for: Duration,
    /// When the last result of each read used here was read.
    applied: Mutex<HashMap<(String, String), SystemTime>>,
}

/// Another sidecar is reading, and no usable result is known yet: the
/// poller's round is made again at its next interval.
fn later() -> CallFailure {
    CallFailure { error: SessionError::RateLimited, attempts: 0, gave_up: GiveUp::Deadline, retry_after: None }
}

impl SharedStageReads {
    /// `inner`'s reads, shared through `results`, each fresh for `fresh_for`
    /// (the stage watches' interval).
    pub fn new(inner: Arc<dyn StageReads>, results: Arc<dyn PollResults>, fresh_for: Duration) -> Self {
        Self { inner, results, fresh_for, applied: Mutex::default() }
    }

    /// `result` decoded, unless it cannot be believed or is older than the
    /// last result of the same read used here.
    fn usable<T: Message + Default>(&self, key: &(String, String), result: Shared) -> Option<T> {
        if result.read_at > SystemTime::now() + CLOCK_SLACK {
            return None;
        }
        let value = T::decode(result.bytes).ok()?;
        let mut applied = lock(&self.applied);
        match applied.get(key) {
            Some(last) if *last > result.read_at => None,
            _ => {
                applied.insert(key.clone(), result.read_at);
                Some(value)
            }
        }
    }

    /// Read `name` of `stage`: shared while fresh, else fetched by `fetch`
    /// under the read's lease and stored for the others.
    async fn through<T: Message + Default>(
        &self,
        stage: &str,
        name: String,
        fetch: impl Future<Output = Result<T, CallFailure>>,
    ) -> Result<T, CallFailure> {
        let key = (stage.to_string(), name);
        match self.results.look(stage, Read::Stage(&key.1), false).await {
            Look::Fresh(result) | Look::Busy(Some(result)) => self.usable(&key, result).ok_or_else(later),
            Look::Busy(None) => Err(later()),
            Look::Fetch(ticket) => {
                let value = fetch.await?;
                let read_at = SystemTime::now();
                ticket.store(Bytes::from(value.encode_to_vec()), read_at, self.fresh_for);
                lock(&self.applied).insert(key, read_at);
                Ok(value)
            }
        }
    }
}

impl StageReads for SharedStageReads {
    fn active_session(&self, stage_arn: &str) -> BoxFuture<'_, Result<String, CallFailure>> {
        let stage_arn = stage_arn.to_string();
        Box::pin(async move {
            let fetch = async {
                let active_session_id = self.inner.active_session(&stage_arn).await?;
                Ok(pb::Stage { active_session_id, ..Default::default() })
            };
            Ok(self.through(&stage_arn, "session".into(), fetch).await?.active_session_id)
        })
    }

    fn sessions(&self, stage_arn: &str) -> BoxFuture<'_, Result<Vec<pb::StageSession>, CallFailure>> {
        let stage_arn = stage_arn.to_string();
        Box::pin(async move {
            let fetch = async {
                let stage_sessions = self.inner.sessions(&stage_arn).await?;
                Ok(pb::ListStageSessionsResponse { stage_sessions, next_page_token: String::new() })
            };
            Ok(self.through(&stage_arn, "sessions".into(), fetch).await?.stage_sessions)
        })
    }

    fn participants<'a>(
        &'a self,
        stage_arn: &'a str,
        session: &'a str,
        page_token: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<pb::Participant>, String), CallFailure>> {
        Box::pin(async move {
            let fetch = async {
                let (participants, next_page_token) = self.inner.participants(stage_arn, session, page_token).await?;
                Ok(pb::ListParticipantsResponse { participants, next_page_token })
            };
            let page = self.through(stage_arn, format!("participants:{session}:{page_token}"), fetch).await?;
            Ok((page.participants, page.next_page_token))
        })
    }

    fn events<'a>(
        &'a self,
        stage_arn: &'a str,
        session: &'a str,
        participant: &'a str,
    ) -> BoxFuture<'a, Result<Vec<pb::ParticipantEvent>, CallFailure>> {
        Box::pin(async move {
            let fetch = async {
                let events = self.inner.events(stage_arn, session, participant).await?;
                Ok(pb::ListParticipantEventsResponse { events, next_page_token: String::new() })
            };
            let name = format!("events:{session}:{participant}");
            Ok(self.through(stage_arn, name, fetch).await?.events)
        })
    }
}
