//! Idempotency keys: the AIP-155 `request_id` a caller sends, turned
//! deterministically into the ClientToken GameLift Streams de-duplicates on, so
//! two sidecars (or one restarted) given the same key send the same token.

use sha2::{Digest, Sha256};

/// Longest accepted `request_id`.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether `request_id` has the accepted form: 1 to 128 printable ASCII
/// characters (`!` to `~`), for example a UUID.
pub fn is_valid_request_id(request_id: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&request_id.len()) && request_id.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// The ClientToken for `request_id` of `operation`: 64 hex characters of
/// SHA-256 over the operation and the key (within GameLift's 32–128 printable
/// ASCII). An empty `request_id` gets a fresh random key, so the retries of one
/// call still share a token.
pub fn client_token(operation: &str, request_id: &str) -> String {
    let key = if request_id.is_empty() { uuid::Uuid::new_v4().to_string() } else { request_id.to_string() };
    let mut hash = Sha256::new();
    hash.update(b"gamelift-streams-gateway/v1\0");
    hash.update(operation.as_bytes());
    hash.update(b"\0");
    hash.update(key.as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_gives_the_same_token_per_operation() {
        let a = client_token("StartStreamSession", "7d2f9c1e-1111-4a6b-9c3d-000000000001");
        assert_eq!(a, client_token("StartStreamSession", "7d2f9c1e-1111-4a6b-9c3d-000000000001"));
        assert_ne!(a, client_token("CreateStreamSessionConnection", "7d2f9c1e-1111-4a6b-9c3d-000000000001"));
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(client_token("StartStreamSession", ""), client_token("StartStreamSession", ""));
    }

    #[test]
    fn request_ids_are_printable_ascii_up_to_128() {
        assert!(is_valid_request_id("a"));
        assert!(is_valid_request_id(&"x".repeat(128)));
        assert!(!is_valid_request_id(""));
        assert!(!is_valid_request_id(&"x".repeat(129)));
        assert!(!is_valid_request_id("has space"));
        assert!(!is_valid_request_id("naïve"));
    }
}
