//! Resume tokens: an opaque, stateless encoding of the last state a watcher
//! was sent (which session, its revision, fingerprint and status), so any
//! sidecar, even after a restart, can tell whether the session changed since.
//! No session data beyond that, and nothing sensitive, goes in a token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The token format this sidecar writes.
const VERSION: u8 = 1;
/// Length of a version-1 token, in bytes.
const LEN: usize = 1 + 8 + 8 + 8 + 4;
/// Revisions a sidecar gives are microseconds since the epoch (about 2^51
/// now); a token at or above this one was made by no sidecar, and would
/// leave the revisions after it no room to grow.
pub const MAX_REVISION: u64 = 1 << 62;

/// What a resume token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeToken {
    /// [`session_tag`] of the session.
    pub session: u64,
    /// Revision of the last event.
    pub revision: u64,
    /// Fingerprint of the state in the last event.
    pub fingerprint: u64,
    /// Status in the last event.
    pub status: i32,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a resume token from this API")]
pub struct MalformedToken;

/// A short tag of a session ID, to recognise a token of another session.
pub fn session_tag(session_id: &str) -> u64 {
    let digest = Sha256::digest(session_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

impl ResumeToken {
    /// The token's text.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.session.to_be_bytes());
        bytes.extend_from_slice(&self.revision.to_be_bytes());
        bytes.extend_from_slice(&self.fingerprint.to_be_bytes());
        bytes.extend_from_slice(&self.status.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a token. `Ok(None)`: a token in a format this sidecar no longer
    /// reads (the watch starts with a fresh snapshot).
    pub fn decode(text: &str) -> Result<Option<Self>, MalformedToken> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| MalformedToken)?;
        match bytes.first() {
            None => Err(MalformedToken),
            Some(&VERSION) if bytes.len() == LEN => {
                let word = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
                let status = i32::from_be_bytes(bytes[25..29].try_into().unwrap_or_default());
                let revision = word(9);
                if revision >= MAX_REVISION {
                    return Err(MalformedToken);
                }
                Ok(Some(Self { session: word(1), revision, fingerprint: word(17), status }))
            }
            Some(&VERSION) => Err(MalformedToken),
            Some(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let token = ResumeToken { session: session_tag("abc"), revision: 42, fingerprint: 7, status: 3 };
        assert_eq!(ResumeToken::decode(&token.encode()), Ok(Some(token)));
    }

    #[test]
    fn a_revision_no_sidecar_gives_is_refused() {
        let token = |revision| ResumeToken { session: 1, revision, fingerprint: 7, status: 3 }.encode();
        assert!(ResumeToken::decode(&token(MAX_REVISION - 1)).is_ok());
        assert_eq!(ResumeToken::decode(&token(MAX_REVISION)), Err(MalformedToken));
        assert_eq!(ResumeToken::decode(&token(u64::MAX)), Err(MalformedToken));
    }

    #[test]
    fn garbage_is_refused_and_other_versions_are_unknown() {
        assert_eq!(ResumeToken::decode("not a token!"), Err(MalformedToken));
        assert_eq!(ResumeToken::decode(""), Err(MalformedToken));
        assert_eq!(ResumeToken::decode(&URL_SAFE_NO_PAD.encode([1u8, 2, 3])), Err(MalformedToken));
        assert_eq!(ResumeToken::decode(&URL_SAFE_NO_PAD.encode([9u8, 2, 3])), Ok(None));
    }
}
