//! The caller's deadline, from the `grpc-timeout` request header (gRPC over
//! HTTP/2: an integer of at most 8 digits and a unit, H M S m u n).

use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::MetadataMap;

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

/// A `grpc-timeout` value as a duration; `None` when it is not one.
pub fn parse_timeout(raw: &str) -> Option<Duration> {
    if raw.len() < 2 || raw.len() > 9 {
        return None;
    }
    let (digits, unit) = raw.split_at(raw.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

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

    #[test]
    fn every_unit_and_garbage() {
        assert_eq!(parse_timeout("300m"), Some(Duration::from_millis(300)));
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("5M"), Some(Duration::from_secs(300)));
        assert_eq!(parse_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_timeout("9n"), Some(Duration::from_nanos(9)));
        assert_eq!(parse_timeout("100"), None);
        assert_eq!(parse_timeout("m"), None);
        assert_eq!(parse_timeout("123456789S"), None);
        assert_eq!(parse_timeout("-1S"), None);
    }
}
