//! When to answer: a little before the caller's deadline, from its
//! `grpc-timeout` request header.

use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::MetadataMap;

use crate::wire::parse_timeout;

/// The instant the gateway answers by, if the caller set a deadline: a little
/// before it (5% of the time, between 10 ms and 250 ms), so that the answer
/// and its details reach the caller before it gives up.
pub fn answer_by(metadata: &MetadataMap, received: Instant) -> Option<Instant> {
    let raw = metadata.get("grpc-timeout")?.to_str().ok()?;
    parse_timeout(raw).map(|timeout| received + timeout - (timeout / 20).clamp(MIN_MARGIN, MAX_MARGIN).min(timeout))
}

/// Bounds of the margin [`answer_by`] keeps before the caller's deadline.
const MIN_MARGIN: Duration = Duration::from_millis(10);
const MAX_MARGIN: Duration = Duration::from_millis(250);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_due_a_little_before_the_callers_deadline() {
        let received = Instant::now();
        let by = |timeout: &str| {
            let mut metadata = MetadataMap::new();
            metadata.insert("grpc-timeout", timeout.parse().expect("ASCII"));
            answer_by(&metadata, received).map(|at| at - received)
        };
        assert_eq!(by("1S"), Some(Duration::from_millis(950)));
        assert_eq!(by("100m"), Some(Duration::from_millis(90)));
        assert_eq!(by("1H"), Some(Duration::from_secs(3600) - MAX_MARGIN));
        assert_eq!(by("5m"), Some(Duration::ZERO));
        assert_eq!(answer_by(&MetadataMap::new(), received), None);
    }
}
