//! What a poller shares with its watchers: the latest observed state of a
//! session (or of a stream group's sessions), its revision and fingerprint,
//! when it was last read, and a failure that ends the watch. Plain data: no
//! I/O and no timing here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::proto::v1 as pb;
use crate::sessions::CallFailure;

/// One observed state of a session.
#[derive(Debug)]
pub struct Observed {
    /// The session (without its signal request).
    pub session: pb::StreamSession,
    /// The revision given to this state when it was first seen.
    pub revision: u64,
    /// When the read that first saw this state answered.
    pub observed_at: SystemTime,
    /// When that read was made, by its reader's clock (another sidecar's, for
    /// a shared result): what orders two states GameLift Streams stamped alike.
    pub read_at: SystemTime,
    /// [`fingerprint`] of `session`.
    pub fingerprint: u64,
}

impl Observed {
    /// The session's status.
    pub fn status(&self) -> pb::StreamSessionStatus {
        self.session.status()
    }
}

/// The feed of one watched session.
#[derive(Debug, Clone, Default)]
pub struct SessionFeed {
    /// The latest state; `None` until the first read answers.
    pub observed: Option<Arc<Observed>>,
    /// When the latest read answered (a read that found no change updates
    /// this without waking the watchers).
    pub polled_at: Option<SystemTime>,
    /// Set when reading failed for good (for example the session does not
    /// exist); the watch ends with it.
    pub failure: Option<CallFailure>,
}

/// The feed of one watched stream group.
#[derive(Debug, Clone, Default)]
pub struct GroupFeed {
    /// The latest state of every session of the group, by session ID.
    pub sessions: Arc<BTreeMap<String, Arc<Observed>>>,
    /// Whether a complete listing has been read yet.
    pub synced: bool,
    /// When the latest complete listing answered.
    pub polled_at: Option<SystemTime>,
    /// When the oldest page of the latest complete listing was read: a
    /// listing read before it is not published.
    pub read_at: Option<SystemTime>,
    /// Set when listing failed for good; the watch ends with it.
    pub failure: Option<CallFailure>,
}

/// Whether `session`, read at `read_at`, is older than `known`, the state
/// published: a state after an end, one GameLift Streams updated earlier, or
/// at the same time but with other contents and read before `known` was. A
/// poller never publishes an older state (a shared result from a sidecar
/// paused past its lease, or from a Redis restored from an old dump).
pub fn is_older(session: &pb::StreamSession, read_at: SystemTime, known: &Observed) -> bool {
    if is_terminal(known.status()) && fingerprint(session) != known.fingerprint {
        return true;
    }
    let stamp = |s: &pb::StreamSession| s.last_updated_at.map(|t| (t.seconds, t.nanos));
    match stamp(session).cmp(&stamp(&known.session)) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => read_at < known.read_at && fingerprint(session) != known.fingerprint,
    }
}

/// Whether a session in `status` will not change any more.
pub fn is_terminal(status: pb::StreamSessionStatus) -> bool {
    matches!(status, pb::StreamSessionStatus::Terminated | pb::StreamSessionStatus::Error)
}

/// A digest of the members whose change is reported: status, status reason,
/// signal response, location and export. Equal fingerprints mean no change.
pub fn fingerprint(s: &pb::StreamSession) -> u64 {
    let mut hash = Sha256::new();
    hash.update(s.status.to_be_bytes());
    hash.update(s.status_reason.to_be_bytes());
    for text in [&s.signal_response, &s.location] {
        hash.update((text.len() as u64).to_be_bytes());
        hash.update(text.as_bytes());
    }
    if let Some(export) = &s.export_files_metadata {
        hash.update(export.status.to_be_bytes());
        for text in [&export.status_reason, &export.output_uri] {
            hash.update((text.len() as u64).to_be_bytes());
            hash.update(text.as_bytes());
        }
    }
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// `full` with the members a ListStreamSessions summary carries taken from
/// `summary` (the others do not change during a session's life, except the
/// signal response, which a summary does not carry).
pub fn merge_summary(full: &pb::StreamSession, summary: &pb::StreamSession) -> pb::StreamSession {
    pb::StreamSession {
        status: summary.status,
        status_reason: summary.status_reason,
        location: summary.location.clone(),
        last_updated_at: summary.last_updated_at,
        export_files_metadata: summary.export_files_metadata.clone(),
        ..full.clone()
    }
}

/// The ID at the end of an ID or ARN (`…/sg-1` → `sg-1`,
/// `…/streamsession/sg-1/abc` → `abc`).
pub fn resource_id(identifier: &str) -> &str {
    identifier.rsplit('/').next().unwrap_or(identifier)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(status: pb::StreamSessionStatus) -> pb::StreamSession {
        pb::StreamSession { status: status.into(), arn: "arn".into(), ..Default::default() }
    }

    #[test]
    fn fingerprint_follows_reported_members_only() {
        let active = session(pb::StreamSessionStatus::Active);
        let later = pb::StreamSession { description: "other".into(), ..active.clone() };
        assert_eq!(fingerprint(&active), fingerprint(&later));
        let signalled = pb::StreamSession { signal_response: "answer".into(), ..active.clone() };
        assert_ne!(fingerprint(&active), fingerprint(&signalled));
        assert_ne!(fingerprint(&active), fingerprint(&session(pb::StreamSessionStatus::Connected)));
        let exported = pb::StreamSession {
            export_files_metadata: Some(pb::ExportFilesMetadata { status: 3, ..Default::default() }),
            ..active.clone()
        };
        assert_ne!(fingerprint(&active), fingerprint(&exported));
    }

    #[test]
    fn merge_keeps_the_members_a_summary_lacks() {
        let full =
            pb::StreamSession { signal_response: "answer".into(), description: "d".into(), ..Default::default() };
        let summary = pb::StreamSession { location: "us-east-1".into(), ..session(pb::StreamSessionStatus::Connected) };
        let merged = merge_summary(&full, &summary);
        assert_eq!((merged.status(), merged.location.as_str()), (pb::StreamSessionStatus::Connected, "us-east-1"));
        assert_eq!((merged.signal_response.as_str(), merged.description.as_str()), ("answer", "d"));
    }

    #[test]
    fn a_state_stamped_earlier_or_read_earlier_is_older_and_nothing_follows_an_end() {
        let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
        let t0 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        let later = t0 + std::time::Duration::from_millis(1);
        let observed = |session: pb::StreamSession, read_at| Observed {
            fingerprint: fingerprint(&session),
            session,
            revision: 1,
            observed_at: read_at,
            read_at,
        };
        let connected = pb::StreamSession { last_updated_at: at(10), ..session(pb::StreamSessionStatus::Connected) };
        let terminating =
            pb::StreamSession { last_updated_at: at(20), ..session(pb::StreamSessionStatus::Terminating) };
        let terminated = pb::StreamSession { last_updated_at: at(20), ..session(pb::StreamSessionStatus::Terminated) };
        assert!(is_older(&connected, later, &observed(terminating.clone(), t0)), "stamped earlier");
        assert!(!is_older(&terminating, t0, &observed(connected.clone(), later)), "stamped later");
        assert!(!is_older(&terminated, later, &observed(terminating.clone(), t0)), "stamped alike, read later");
        assert!(is_older(&terminating, t0, &observed(terminated.clone(), later)), "stamped alike, read earlier");
        assert!(!is_older(&terminated, t0, &observed(terminated.clone(), later)), "the same state is not older");
        let revived = pb::StreamSession { last_updated_at: at(30), ..session(pb::StreamSessionStatus::Active) };
        assert!(is_older(&revived, later, &observed(terminated, t0)), "nothing follows an end");
    }

    #[test]
    fn resource_ids_come_from_ids_and_arns() {
        assert_eq!(resource_id("sg-1"), "sg-1");
        assert_eq!(resource_id("arn:aws:gameliftstreams:us-west-2:1:streamgroup/sg-1"), "sg-1");
        assert_eq!(resource_id("arn:aws:gameliftstreams:us-west-2:1:streamsession/sg-1/abc"), "abc");
    }
}
