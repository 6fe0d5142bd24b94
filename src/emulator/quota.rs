//! Per-operation request-rate limits, as GameLift Streams and IVS Real-Time
//! enforce them per account and Region: token buckets refilled in real time (not simulated time:
//! clients send in real time), with a burst of one second's worth. Decides only
//! whether a call may pass.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::Instant;

use crate::sync::lock;

/// AWS's published limits, in requests per second
/// (Amazon GameLift Streams developer guide, "API rate limits").
pub const AWS_RATE_LIMITS: &[(&str, f64)] = &[
    ("AddStreamGroupLocations", 5.0),
    ("AssociateApplications", 5.0),
    ("CreateApplication", 5.0),
    ("CreateStreamGroup", 1.0),
    ("CreateStreamSessionConnection", 20.0),
    ("DeleteApplication", 5.0),
    ("DeleteStreamGroup", 5.0),
    ("DisassociateApplications", 5.0),
    ("ExportStreamSessionFiles", 20.0),
    ("GetApplication", 10.0),
    ("GetStreamGroup", 10.0),
    ("GetStreamSession", 20.0),
    ("ListApplications", 10.0),
    ("ListStreamGroups", 10.0),
    ("ListStreamSessions", 20.0),
    ("ListStreamSessionsByAccount", 20.0),
    ("ListTagsForResource", 10.0),
    ("RemoveStreamGroupLocations", 5.0),
    ("StartStreamSession", 20.0),
    ("TagResource", 10.0),
    ("TerminateStreamSession", 20.0),
    ("UntagResource", 10.0),
    ("UpdateApplication", 5.0),
    ("UpdateStreamGroup", 5.0),
];

/// AWS's published limits of IVS Real-Time, in requests per second ("IVS
/// Service Quotas | Real-Time Streaming", API call rate quotas; not
/// adjustable). Keyed by operation name; the emulator counts and limits the tag
/// operations, whose names GameLift Streams also has, as
/// `ivs-realtime:TagResource` and so on. Operations AWS lists no rate for
/// (participant replication, RevokeConnectionToken) are not limited.
pub const IVS_REALTIME_RATE_LIMITS: &[(&str, f64)] = &[
    ("CreateEncoderConfiguration", 5.0),
    ("CreateIngestConfiguration", 5.0),
    ("CreateParticipantToken", 50.0),
    ("CreateStage", 5.0),
    ("CreateStorageConfiguration", 5.0),
    ("DeleteEncoderConfiguration", 5.0),
    ("DeleteIngestConfiguration", 5.0),
    ("DeletePublicKey", 3.0),
    ("DeleteStage", 5.0),
    ("DeleteStorageConfiguration", 5.0),
    ("DisconnectParticipant", 5.0),
    ("GetComposition", 5.0),
    ("GetEncoderConfiguration", 5.0),
    ("GetIngestConfiguration", 5.0),
    ("GetParticipant", 5.0),
    ("GetPublicKey", 3.0),
    ("GetStage", 5.0),
    ("GetStageSession", 5.0),
    ("GetStorageConfiguration", 5.0),
    ("ImportPublicKey", 3.0),
    ("ListCompositions", 5.0),
    ("ListEncoderConfigurations", 5.0),
    ("ListIngestConfigurations", 5.0),
    ("ListParticipantEvents", 5.0),
    ("ListParticipants", 5.0),
    ("ListPublicKeys", 3.0),
    ("ListStageSessions", 5.0),
    ("ListStages", 5.0),
    ("ListStorageConfigurations", 5.0),
    ("ListTagsForResource", 10.0),
    ("StartComposition", 5.0),
    ("StopComposition", 5.0),
    ("TagResource", 10.0),
    ("UntagResource", 10.0),
    ("UpdateIngestConfiguration", 5.0),
    ("UpdateStage", 5.0),
];

#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

/// Token buckets per operation; an operation without one is not limited.
#[derive(Debug, Default)]
pub struct RateLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimits {
    /// Limits with these rates (requests per second).
    pub fn new(rates: &HashMap<String, f64>) -> Self {
        let limits = Self::default();
        for (op, rate) in rates {
            limits.set(op, Some(*rate));
        }
        limits
    }

    /// Sets (or, with `None`, removes) the limit of one operation.
    pub fn set(&self, operation: &str, rate: Option<f64>) {
        let mut buckets = lock(&self.buckets);
        match rate {
            Some(rate) => {
                buckets.insert(operation.to_string(), Bucket { rate, tokens: rate.max(1.0), last: Instant::now() });
            }
            None => {
                buckets.remove(operation);
            }
        }
    }

    /// Takes one token for `operation`; false when the call must be throttled.
    pub fn try_acquire(&self, operation: &str) -> bool {
        let mut buckets = lock(&self.buckets);
        let Some(bucket) = buckets.get_mut(operation) else {
            return true;
        };
        let now = Instant::now();
        let burst = bucket.rate.max(1.0);
        let refill = now.duration_since(bucket.last).as_secs_f64() * bucket.rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_one_second_then_the_rate() {
        let limits = RateLimits::new(&HashMap::from([("GetStreamSession".to_string(), 20.0)]));
        let passed = (0..25).filter(|_| limits.try_acquire("GetStreamSession")).count();
        assert_eq!(passed, 20);
        tokio::time::advance(Duration::from_millis(100)).await;
        let passed = (0..5).filter(|_| limits.try_acquire("GetStreamSession")).count();
        assert_eq!(passed, 2);
        assert!(limits.try_acquire("StartStreamSession"), "no bucket, no limit");
        limits.set("GetStreamSession", None);
        assert!((0..100).all(|_| limits.try_acquire("GetStreamSession")));
    }

    #[test]
    fn every_ivs_rate_names_an_operation_of_the_ivs_model() {
        let model = crate::service_model::ivs_realtime_model();
        for (op, rate) in IVS_REALTIME_RATE_LIMITS {
            assert!(model.operation(op).is_some(), "{op}");
            assert!(*rate > 0.0);
        }
        let rate = |name: &str| IVS_REALTIME_RATE_LIMITS.iter().find(|(op, _)| *op == name).map(|(_, r)| *r);
        assert_eq!(rate("CreateParticipantToken"), Some(50.0));
        assert_eq!(rate("ListParticipants"), Some(5.0));
        assert_eq!(rate("TagResource"), Some(10.0));
    }
}
