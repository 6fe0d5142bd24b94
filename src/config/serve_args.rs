//! The `serve` command's flags, validated into the gateway's settings.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::emulator_args::{capacity_in, check_region};
use super::{check_rates, invalid, pair, positive_duration, seconds, ConfigError, Secret};
use crate::auth::AuthToken;
use crate::connections::ConnectionLimits;
use crate::emulator::EmulatorConfig;
use crate::fleet::{FleetConfig, DEFAULT_PREFIX};
use crate::server::{Access, Limits, ListenAddr};
use crate::sessions::client::AwsSettings;
use crate::sessions::idempotency::{StoreLimits, DEFAULT_NAMESPACE};
use crate::sessions::resilience::{RetryPolicy, PUBLISHED_LIMITS};
use crate::sessions::watch::WatchConfig;
use crate::stages::watch::StageWatchConfig;

/// Flags of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where to listen: IP:PORT or NAME:PORT (every address the name resolves
    /// to; port 0 picks a free port) or unix:/path.
    #[arg(long, env = "GLS_GATEWAY_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: ListenAddr,
    /// GameLift Streams endpoint URL (default: AWS's endpoint for the Region).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// AWS Region (default: aws-config's chain: AWS_REGION, profile, IMDS).
    #[arg(long, env = "AWS_REGION")]
    pub aws_region: Option<String>,
    /// Longest time one HTTP attempt to GameLift Streams may take, in seconds.
    #[arg(long, env = "GLS_GATEWAY_AWS_ATTEMPT_TIMEOUT_SECONDS", default_value_t = 10.0)]
    pub aws_attempt_timeout_seconds: f64,
    /// Attempts per call, the first included (1 turns retries off). A call with a deadline
    /// retries throttling past this, until its deadline or the retry budget stops it.
    #[arg(long, env = "GLS_GATEWAY_RETRY_MAX_ATTEMPTS", default_value_t = 3)]
    pub retry_max_attempts: u32,
    /// Backoff before the first retry, in milliseconds; it doubles per retry, with full jitter.
    #[arg(long, env = "GLS_GATEWAY_RETRY_BASE_DELAY_MS", default_value_t = 100)]
    pub retry_base_delay_ms: u64,
    /// Longest backoff, in milliseconds.
    #[arg(long, env = "GLS_GATEWAY_RETRY_MAX_DELAY_MS", default_value_t = 5000)]
    pub retry_max_delay_ms: u64,
    /// Size of the process-wide retry budget, in tokens (a retry after throttling
    /// costs 5, after another transient failure 10; a success returns 1).
    #[arg(long, env = "GLS_GATEWAY_RETRY_BUDGET_TOKENS", default_value_t = 500)]
    pub retry_budget_tokens: u32,
    /// Highest send rate for one operation, as OPERATION=N requests per second
    /// (repeatable; default: AWS's published limits: 20/s for every GameLift Streams
    /// session operation, 5/s for most IVS Real-Time operations, 50/s for
    /// CreateParticipantToken).
    #[arg(long = "rate-limit", env = "GLS_GATEWAY_RATE_LIMITS", value_delimiter = ',', value_parser = pair::<f64>)]
    pub rate_limits: Vec<(String, f64)>,
    /// Namespace of idempotency keys: sidecars that share it turn the same
    /// request_id into the same ClientToken. Give unrelated workloads in one
    /// AWS account different namespaces.
    #[arg(long, env = "GLS_GATEWAY_IDEMPOTENCY_NAMESPACE", default_value = DEFAULT_NAMESPACE)]
    pub idempotency_namespace: String,
    /// How long a finished call's outcome is replayed to a repeat of its
    /// request_id, in seconds.
    #[arg(long, env = "GLS_GATEWAY_IDEMPOTENCY_RETENTION_SECONDS", default_value_t = 3600.0)]
    pub idempotency_retention_seconds: f64,
    /// Most idempotency entries kept in memory (the oldest go first).
    #[arg(long, env = "GLS_GATEWAY_IDEMPOTENCY_MAX_ENTRIES", default_value_t = 100_000)]
    pub idempotency_max_entries: usize,
    /// Watches: seconds between reads of a session that is ACTIVATING,
    /// RECONNECTING or TERMINATING.
    #[arg(long, env = "GLS_GATEWAY_WATCH_FAST_INTERVAL_SECONDS", default_value_t = 1.0)]
    pub watch_fast_interval_seconds: f64,
    /// Watches: seconds between reads of a session that is ACTIVE or
    /// PENDING_CLIENT_RECONNECTION, and of a watched stream group's listing.
    #[arg(long, env = "GLS_GATEWAY_WATCH_NORMAL_INTERVAL_SECONDS", default_value_t = 2.0)]
    pub watch_normal_interval_seconds: f64,
    /// Watches: seconds between reads of a CONNECTED session.
    #[arg(long, env = "GLS_GATEWAY_WATCH_SLOW_INTERVAL_SECONDS", default_value_t = 10.0)]
    pub watch_slow_interval_seconds: f64,
    /// Watches: seconds without an event after which a heartbeat is sent.
    #[arg(long, env = "GLS_GATEWAY_WATCH_HEARTBEAT_SECONDS", default_value_t = 15.0)]
    pub watch_heartbeat_seconds: f64,
    /// Watches: a cap on the share (0 < share <= 1) of each operation's rate
    /// limit that polling may use. Polls only ever take send slots no RPC is
    /// waiting for (an RPC waits behind polls for one slot at most), so by
    /// default (1) they use whatever the RPCs leave.
    #[arg(long, env = "GLS_GATEWAY_WATCH_POLL_SHARE", default_value_t = 1.0)]
    pub watch_poll_share: f64,
    /// Stage watches (WatchStageParticipants): seconds between reads of a
    /// stage's participants while someone is on it (IVS Real-Time allows 5
    /// ListParticipants a second for the account: stages watched at once
    /// share them).
    #[arg(long, env = "GLS_GATEWAY_STAGE_WATCH_INTERVAL_SECONDS", default_value_t = 1.0)]
    pub stage_watch_interval_seconds: f64,
    /// Stage watches: seconds between reads of a stage nobody is on (one
    /// ListStageSessions each, for a new stage session, and a GetStage every
    /// fifth).
    #[arg(long, env = "GLS_GATEWAY_STAGE_WATCH_IDLE_INTERVAL_SECONDS", default_value_t = 2.0)]
    pub stage_watch_idle_interval_seconds: f64,
    /// On SIGTERM/SIGINT, seconds to let in-flight calls finish before exiting.
    #[arg(long, env = "GLS_GATEWAY_DRAIN_SECONDS", default_value_t = 20.0)]
    pub drain_seconds: f64,
    /// On SIGTERM/SIGINT, seconds to go on serving normally before draining
    /// (a second signal cuts it short): for a classic sidecar, whose app
    /// receives SIGTERM at the same moment and may still make calls.
    #[arg(long, env = "GLS_GATEWAY_SHUTDOWN_DELAY_SECONDS", default_value_t = 0.0)]
    pub shutdown_delay_seconds: f64,
    /// Require `authorization: Bearer <token>` on every call but health, with
    /// the token in this file (a mounted Secret; surrounding whitespace is
    /// ignored).
    #[arg(long, env = "GLS_GATEWAY_AUTH_TOKEN_FILE", conflicts_with = "auth_token")]
    pub auth_token_file: Option<std::path::PathBuf>,
    /// The same, with the token itself (prefer the environment variable or the
    /// file: a flag is visible in the process list).
    #[arg(long, env = "GLS_GATEWAY_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<Secret>,
    /// Also serve grpc.health.v1 alone, without a token, on HOST:PORT: for
    /// Kubernetes gRPC probes while the API listens on loopback.
    #[arg(long, env = "GLS_GATEWAY_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,
    /// Serve Prometheus metrics at http://ADDR/metrics (HOST:PORT; port 0 picks
    /// a free port). Off when unset.
    #[arg(long, env = "GLS_GATEWAY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Largest request message accepted, in bytes; a larger one is
    /// RESOURCE_EXHAUSTED before it is read. The default leaves room for a
    /// WebRTC offer of several kilobytes.
    #[arg(long, env = "GLS_GATEWAY_MAX_REQUEST_BYTES", default_value_t = Limits::default().max_request_bytes)]
    pub max_request_bytes: usize,
    /// Connections open at once on each listener; at the limit new ones wait
    /// in the kernel's backlog.
    #[arg(long, env = "GLS_GATEWAY_MAX_CONNECTIONS", default_value_t = Limits::default().connections.max_connections)]
    pub max_connections: usize,
    /// Seconds a new connection has to send the HTTP/2 preface before it is closed.
    #[arg(long, env = "GLS_GATEWAY_HANDSHAKE_TIMEOUT_SECONDS", default_value_t = 10.0)]
    pub handshake_timeout_seconds: f64,
    /// Seconds of silence after which a connection is pinged (HTTP/2 PING).
    #[arg(long, env = "GLS_GATEWAY_KEEPALIVE_INTERVAL_SECONDS", default_value_t = 30.0)]
    pub keepalive_interval_seconds: f64,
    /// Seconds a ping has to be answered before the connection is closed.
    #[arg(long, env = "GLS_GATEWAY_KEEPALIVE_TIMEOUT_SECONDS", default_value_t = 10.0)]
    pub keepalive_timeout_seconds: f64,
    /// Start the GameLift Streams emulator on a loopback port and use it
    /// instead of AWS (no AWS account or credentials needed).
    #[arg(long, env = "GLS_GATEWAY_EMULATOR")]
    pub emulator: bool,
    /// Simulated seconds per real second in the embedded emulator. Its
    /// Region (in ARNs, and its stream group's location) is --aws-region's,
    /// us-west-2 when none is given.
    #[arg(long, env = "GLS_GATEWAY_EMULATOR_TIME_SCALE", default_value_t = 1.0)]
    pub emulator_time_scale: f64,
    /// Stream capacity of the embedded emulator's stream group in a
    /// location, as LOCATION=N (repeatable; default: the Region with 4).
    #[arg(long, env = "GLS_GATEWAY_EMULATOR_CAPACITY", value_delimiter = ',', value_parser = pair::<u32>)]
    pub emulator_capacity: Vec<(String, u32)>,
    /// Simulated seconds from placement to ACTIVE in the embedded emulator
    /// (default 5).
    #[arg(long, env = "GLS_GATEWAY_EMULATOR_ACTIVATION_SECONDS")]
    pub emulator_activation_seconds: Option<f64>,
    /// Fleet mode: share the send budget and idempotency records with every
    /// sidecar of the account and Region through this Redis (redis://, or
    /// rediss:// for TLS; user and password may be in the URL). Without it
    /// each sidecar keeps its own state.
    #[arg(long, env = "GLS_GATEWAY_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,
    /// A file holding the Redis password (a mounted Secret); it overrides
    /// the URL's.
    #[arg(long, env = "GLS_GATEWAY_REDIS_PASSWORD_FILE", requires = "redis_url")]
    pub redis_password_file: Option<std::path::PathBuf>,
    /// What every fleet key starts with (the Region follows): sidecars with
    /// the same prefix share one budget, so give unrelated fleets (another
    /// account) their own.
    #[arg(long, env = "GLS_GATEWAY_REDIS_KEY_PREFIX", default_value = DEFAULT_PREFIX)]
    pub redis_key_prefix: String,
    /// Longest wait for one Redis command; past it the sidecar serves from
    /// its own state (its share of each ceiling) until Redis answers again.
    #[arg(long, env = "GLS_GATEWAY_REDIS_TIMEOUT_MS", default_value_t = 250)]
    pub redis_timeout_ms: u64,
    /// How often each sidecar tells the fleet it is alive; one silent for
    /// three heartbeats no longer counts in the share of a ceiling.
    #[arg(long, env = "GLS_GATEWAY_FLEET_HEARTBEAT_SECONDS", default_value_t = 1.0)]
    pub fleet_heartbeat_seconds: f64,
    /// In fleet mode, answer GetStreamSession from the state a watch poller
    /// of any sidecar read at most this many milliseconds ago, instead of
    /// calling AWS (its signal request is then empty); 0: always call AWS.
    #[arg(long, env = "GLS_GATEWAY_FLEET_GET_MAX_AGE_MS", default_value_t = 0)]
    pub fleet_get_max_age_ms: u64,
    /// The Redis of --redis-url is a Redis Cluster (ElastiCache cluster mode):
    /// use a cluster client, which discovers the other nodes from this one
    /// and follows the cluster's redirections. Every key of the fleet shares
    /// one hash tag, so the fleet lives on one shard.
    #[arg(long, env = "GLS_GATEWAY_REDIS_CLUSTER", requires = "redis_url")]
    pub redis_cluster: bool,
    /// How many sidecars the fleet is expected to have (the replica count).
    /// When Redis is down a sidecar paces at its share of each ceiling: the
    /// ceiling divided by the most members it saw in the last 30 heartbeats,
    /// and never by fewer than this, so one started while Redis is down does
    /// not take the whole quota.
    #[arg(long, env = "GLS_GATEWAY_FLEET_EXPECTED_MEMBERS", default_value_t = 1)]
    pub fleet_expected_members: usize,
}

/// The validated settings of `serve`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// Where to listen.
    pub listen: ListenAddr,
    /// How to reach GameLift Streams.
    pub aws: AwsSettings,
    /// How calls are retried and paced.
    pub retry: RetryPolicy,
    /// Namespace of idempotency keys.
    pub idempotency_namespace: String,
    /// Bounds of the idempotency store.
    pub idempotency: StoreLimits,
    /// How watches poll.
    pub watch: WatchConfig,
    /// How stage watches poll.
    pub stage_watch: StageWatchConfig,
    /// Grace period for in-flight calls at shutdown.
    pub drain: Duration,
    /// Normal service after the first signal, before the drain.
    pub shutdown_delay: Duration,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Who may call, and where health is also served.
    pub access: Access,
    /// What callers can make the server hold.
    pub limits: Limits,
    /// The embedded emulator, when asked for.
    pub emulator: Option<EmulatorConfig>,
    /// Fleet mode, when a Redis URL is given.
    pub fleet: Option<FleetConfig>,
}

impl ServeArgs {
    /// The embedded emulator's settings.
    fn emulator_config(&self) -> Result<EmulatorConfig, ConfigError> {
        let mut config = EmulatorConfig { time_scale: self.emulator_time_scale, ..EmulatorConfig::default() };
        if let Some(region) = &self.aws_region {
            check_region(region, "aws-region")?;
            config.world.region = region.clone();
        }
        config.world.capacity = capacity_in(&config.world.region, &self.emulator_capacity, "emulator-capacity")?;
        if let Some(activation) = self.emulator_activation_seconds {
            config.world.timings.activation = seconds("emulator-activation-seconds", activation)?;
        }
        Ok(config)
    }

    /// Validates the flags.
    pub fn to_config(&self) -> Result<ServeConfig, ConfigError> {
        let retry = self.retry_policy()?;
        let drain = Duration::from_secs_f64(seconds("drain-seconds", self.drain_seconds)?);
        if !(self.emulator_time_scale.is_finite() && self.emulator_time_scale > 0.0) {
            return Err(invalid("emulator-time-scale", "must be a number > 0"));
        }
        if self.emulator && self.aws_endpoint_url.is_some() {
            return Err(invalid("emulator", "cannot be combined with --aws-endpoint-url"));
        }
        let emulator = self.emulator.then(|| self.emulator_config()).transpose()?;
        if !self.emulator {
            if !self.emulator_capacity.is_empty() {
                return Err(invalid("emulator-capacity", "needs --emulator"));
            }
            if self.emulator_activation_seconds.is_some() {
                return Err(invalid("emulator-activation-seconds", "needs --emulator"));
            }
        }
        let aws = AwsSettings {
            endpoint_url: self.aws_endpoint_url.clone(),
            region: match &emulator {
                Some(e) => Some(e.world.region.clone()),
                None => self.aws_region.clone(),
            },
            dummy_credentials: self.emulator,
        };
        if self.idempotency_namespace.is_empty() || self.idempotency_max_entries == 0 {
            return Err(invalid("idempotency-namespace", "namespace and max entries must not be empty"));
        }
        let idempotency = StoreLimits {
            retention: Duration::from_secs_f64(seconds(
                "idempotency-retention-seconds",
                self.idempotency_retention_seconds,
            )?),
            max_entries: self.idempotency_max_entries,
        };
        Ok(ServeConfig {
            listen: self.listen.clone(),
            aws,
            retry,
            idempotency_namespace: self.idempotency_namespace.clone(),
            idempotency,
            watch: self.watch_config()?,
            stage_watch: StageWatchConfig {
                interval: positive_duration("stage-watch-interval-seconds", self.stage_watch_interval_seconds)?,
                idle_interval: positive_duration(
                    "stage-watch-idle-interval-seconds",
                    self.stage_watch_idle_interval_seconds,
                )?,
                heartbeat: positive_duration("watch-heartbeat-seconds", self.watch_heartbeat_seconds)?,
            },
            drain,
            shutdown_delay: Duration::from_secs_f64(seconds("shutdown-delay-seconds", self.shutdown_delay_seconds)?),
            metrics_listen: self.metrics_listen,
            access: Access { token: self.auth_token()?, health_listen: self.health_listen },
            limits: self.limits()?,
            emulator,
            fleet: self.fleet()?,
        })
    }

    fn fleet(&self) -> Result<Option<FleetConfig>, ConfigError> {
        let Some(url) = &self.redis_url else { return Ok(None) };
        // The URL may carry a password: errors name the flag, never the value.
        if !(url.0.starts_with("redis://") || url.0.starts_with("rediss://")) {
            return Err(invalid("redis-url", "must start with redis:// or rediss://"));
        }
        let password = match &self.redis_password_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| invalid("redis-password-file", format!("cannot read {}: {e}", path.display())))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            ),
            None => None,
        };
        let prefix = &self.redis_key_prefix;
        if prefix.is_empty() || prefix.contains(['{', '}']) {
            return Err(invalid("redis-key-prefix", "must not be empty or contain { or }"));
        }
        if !(1..=60_000).contains(&self.redis_timeout_ms) {
            return Err(invalid("redis-timeout-ms", "must be 1 to 60000"));
        }
        if !(1..=10_000).contains(&self.fleet_expected_members) {
            return Err(invalid("fleet-expected-members", "must be 1 to 10000"));
        }
        Ok(Some(FleetConfig {
            url: url.0.clone(),
            password,
            prefix: prefix.clone(),
            timeout: Duration::from_millis(self.redis_timeout_ms),
            heartbeat: positive_duration("fleet-heartbeat-seconds", self.fleet_heartbeat_seconds)?,
            recent_gets: (self.fleet_get_max_age_ms > 0).then(|| Duration::from_millis(self.fleet_get_max_age_ms)),
            cluster: self.redis_cluster,
            expected_members: self.fleet_expected_members,
        }))
    }

    fn auth_token(&self) -> Result<Option<AuthToken>, ConfigError> {
        let raw = match (&self.auth_token_file, &self.auth_token) {
            (Some(path), _) => std::fs::read_to_string(path)
                .map_err(|e| invalid("auth-token-file", format!("cannot read {}: {e}", path.display())))?,
            (None, Some(secret)) => secret.0.clone(),
            (None, None) => return Ok(None),
        };
        let flag = if self.auth_token_file.is_some() { "auth-token-file" } else { "auth-token" };
        AuthToken::new(&raw).map(Some).map_err(|reason| invalid(flag, reason))
    }

    fn limits(&self) -> Result<Limits, ConfigError> {
        if !(1024..=64 * 1024 * 1024).contains(&self.max_request_bytes) {
            return Err(invalid("max-request-bytes", "must be 1024 to 67108864"));
        }
        if self.max_connections == 0 {
            return Err(invalid("max-connections", "must be at least 1"));
        }
        Ok(Limits {
            max_request_bytes: self.max_request_bytes,
            connections: ConnectionLimits {
                max_connections: self.max_connections,
                handshake_timeout: positive_duration("handshake-timeout-seconds", self.handshake_timeout_seconds)?,
            },
            keepalive_interval: positive_duration("keepalive-interval-seconds", self.keepalive_interval_seconds)?,
            keepalive_timeout: positive_duration("keepalive-timeout-seconds", self.keepalive_timeout_seconds)?,
        })
    }

    fn watch_config(&self) -> Result<WatchConfig, ConfigError> {
        if !(self.watch_poll_share > 0.0 && self.watch_poll_share <= 1.0) {
            return Err(invalid("watch-poll-share", "must be a number > 0 and <= 1"));
        }
        Ok(WatchConfig {
            fast_interval: positive_duration("watch-fast-interval-seconds", self.watch_fast_interval_seconds)?,
            normal_interval: positive_duration("watch-normal-interval-seconds", self.watch_normal_interval_seconds)?,
            slow_interval: positive_duration("watch-slow-interval-seconds", self.watch_slow_interval_seconds)?,
            heartbeat: positive_duration("watch-heartbeat-seconds", self.watch_heartbeat_seconds)?,
            poll_share: self.watch_poll_share,
        })
    }

    fn retry_policy(&self) -> Result<RetryPolicy, ConfigError> {
        if !(1..=10).contains(&self.retry_max_attempts) {
            return Err(invalid("retry-max-attempts", "must be 1 to 10"));
        }
        if self.retry_base_delay_ms == 0 || self.retry_max_delay_ms < self.retry_base_delay_ms {
            return Err(invalid("retry-max-delay-ms", "delays must be > 0 and max >= base"));
        }
        let mut policy = RetryPolicy {
            max_attempts: self.retry_max_attempts,
            base_delay: Duration::from_millis(self.retry_base_delay_ms),
            max_delay: Duration::from_millis(self.retry_max_delay_ms),
            attempt_timeout: positive_duration("aws-attempt-timeout-seconds", self.aws_attempt_timeout_seconds)?,
            budget_tokens: self.retry_budget_tokens,
            ..RetryPolicy::default()
        };
        let called = |op: &str| PUBLISHED_LIMITS.iter().any(|(known, _)| *known == op);
        check_rates(&self.rate_limits, called, "an operation the gateway calls")?;
        policy.ceilings.extend(self.rate_limits.iter().cloned());
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn serve(args: &[&str]) -> Result<ServeConfig, String> {
        let cli =
            Cli::try_parse_from(["gamelift-streams-gateway", "serve"].iter().chain(args)).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Serve(args) => args.to_config().map_err(|e| e.to_string()),
            Command::Emulator(_) => Err("not serve".into()),
        }
    }

    #[test]
    fn limits_have_defaults_flags_and_bounds() {
        assert_eq!(serve(&[]).expect("valid").limits, Limits::default());
        let set = serve(&[
            "--max-request-bytes",
            "2048",
            "--max-connections",
            "8",
            "--handshake-timeout-seconds",
            "2",
            "--keepalive-interval-seconds",
            "5",
            "--keepalive-timeout-seconds",
            "1",
        ])
        .expect("valid")
        .limits;
        let expected = Limits {
            max_request_bytes: 2048,
            connections: ConnectionLimits { max_connections: 8, handshake_timeout: Duration::from_secs(2) },
            keepalive_interval: Duration::from_secs(5),
            keepalive_timeout: Duration::from_secs(1),
        };
        assert_eq!(set, expected);
        for (flag, value) in [
            ("--max-request-bytes", "10"),
            ("--max-connections", "0"),
            ("--handshake-timeout-seconds", "0"),
            ("--keepalive-interval-seconds", "0"),
            ("--keepalive-timeout-seconds", "NaN"),
        ] {
            let err = serve(&[flag, value]).expect_err("refused");
            assert!(err.contains(flag), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn auth_tokens_come_from_a_file_or_the_environment_and_are_checked() {
        assert_eq!(serve(&[]).expect("valid").access, Access::default());
        let short = serve(&["--auth-token", "short"]).expect_err("too short");
        assert!(short.contains("--auth-token") && !short.contains("short:"), "{short}");
        let missing = serve(&["--auth-token-file", "/nonexistent/token"]).expect_err("unreadable");
        assert!(missing.contains("--auth-token-file"), "{missing}");
        let both = serve(&["--auth-token-file", "/x", "--auth-token", "0123456789abcdef"]).expect_err("conflict");
        assert!(both.contains("cannot be used with"), "{both}");
        let config = serve(&["--auth-token", "0123456789abcdef", "--health-listen", "0.0.0.0:50052"]).expect("valid");
        assert_eq!(config.access.token, Some(AuthToken::new("0123456789abcdef").expect("token")));
        assert_eq!(config.access.health_listen, Some("0.0.0.0:50052".parse().expect("address")));
        assert!(!format!("{config:?}").contains("0123456789abcdef"), "Debug redacts the token");
    }

    #[test]
    fn serve_defaults_to_loopback_50051_and_parses_unix_sockets() {
        let config = serve(&[]).expect("defaults are valid");
        assert_eq!(config.listen, ListenAddr::Tcp("127.0.0.1:50051".parse().expect("addr")));
        assert_eq!(config.drain, Duration::from_secs(20));
        assert!(config.emulator.is_none());
        let named = serve(&["--listen", "localhost:50052"]).expect("a host name");
        assert_eq!(named.listen, ListenAddr::Host("localhost".into(), 50052));
        let unix = serve(&["--listen", "unix:/tmp/gw.sock"]).expect("valid");
        assert_eq!(unix.listen.to_string(), "unix:/tmp/gw.sock");
        let embedded = serve(&["--emulator"]).expect("valid");
        assert!(embedded.aws.dummy_credentials);
        assert_eq!(embedded.aws.region.as_deref(), Some("us-west-2"));
        let elsewhere = serve(&[
            "--emulator",
            "--aws-region",
            "eu-central-1",
            "--emulator-capacity",
            "eu-central-1=2",
            "--emulator-activation-seconds",
            "1.5",
        ])
        .expect("valid");
        assert_eq!(elsewhere.aws.region.as_deref(), Some("eu-central-1"));
        let world = &elsewhere.emulator.as_ref().expect("embedded").world;
        assert_eq!(
            (world.region.as_str(), world.capacity.as_slice()),
            ("eu-central-1", &[("eu-central-1".into(), 2)][..])
        );
        assert_eq!(world.timings.activation, 1.5);
        let default_capacity = serve(&["--emulator", "--aws-region", "ap-northeast-1"]).expect("valid");
        let world = &default_capacity.emulator.as_ref().expect("embedded").world;
        assert_eq!(world.capacity, [("ap-northeast-1".to_string(), 4)], "4 in the Region given");
    }

    #[test]
    fn serve_rejects_bad_values_by_flag() {
        assert!(serve(&["--listen", "nowhere"]).expect_err("bad").contains("--listen"));
        assert!(serve(&["--listen", "bad_name:50051"]).expect_err("bad").contains("--listen"));
        assert!(serve(&["--listen", ":50051"]).expect_err("bad").contains("--listen"));
        assert!(serve(&["--listen", "localhost:http"]).expect_err("bad").contains("--listen"));
        assert!(serve(&["--aws-attempt-timeout-seconds", "0"])
            .expect_err("bad")
            .contains("--aws-attempt-timeout-seconds"));
        assert!(serve(&["--retry-max-attempts", "0"]).expect_err("bad").contains("--retry-max-attempts"));
        assert!(serve(&["--rate-limit", "CreateStreamGroup=1"]).expect_err("bad").contains("--rate-limit"));
        let tuned = serve(&["--rate-limit", "GetStreamSession=5", "--retry-budget-tokens", "50"]).expect("valid");
        assert_eq!(tuned.retry.ceilings["GetStreamSession"], 5.0);
        assert_eq!(tuned.retry.ceilings["StartStreamSession"], 20.0);
        assert_eq!(tuned.retry.budget_tokens, 50);
        let alone = serve(&["--emulator-capacity", "us-west-2=1"]).expect_err("no emulator");
        assert!(alone.contains("--emulator-capacity") && alone.contains("needs --emulator"), "{alone}");
        let alone = serve(&["--emulator-activation-seconds", "1"]).expect_err("no emulator");
        assert!(alone.contains("--emulator-activation-seconds"), "{alone}");
        assert!(serve(&["--emulator", "--aws-region", "not a region"]).expect_err("bad").contains("--aws-region"));
        let both = serve(&["--emulator", "--aws-endpoint-url", "http://x"]).expect_err("bad");
        assert!(both.contains("--emulator"), "{both}");
    }

    #[test]
    fn fleet_mode_is_off_without_a_redis_url_and_its_flags_are_checked() {
        assert_eq!(serve(&[]).expect("valid").fleet, None);
        let dir = std::env::temp_dir().join(format!("gls-redis-password-{}", std::process::id()));
        std::fs::write(&dir, "from-the-secret\n").expect("password file");
        let path = dir.to_str().expect("utf-8 path");
        let fleet = serve(&["--redis-url", "rediss://user:in-the-url@cache:6379", "--redis-password-file", path])
            .expect("valid")
            .fleet
            .expect("fleet mode on");
        std::fs::remove_file(&dir).expect("cleanup");
        assert_eq!(fleet.password.as_deref(), Some("from-the-secret"));
        assert_eq!((fleet.prefix.as_str(), fleet.timeout), ("gls", Duration::from_millis(250)));
        assert_eq!(fleet.recent_gets, None, "GetStreamSession goes upstream unless asked");
        assert!(!format!("{fleet:?}").contains("in-the-url"), "Debug redacts the URL");
        for (args, flag) in [
            (&["--redis-url", "http://user:secret@cache"][..], "--redis-url"),
            (&["--redis-url", "redis://cache", "--redis-key-prefix", "{x}"], "--redis-key-prefix"),
            (&["--redis-url", "redis://cache", "--redis-timeout-ms", "0"], "--redis-timeout-ms"),
            (&["--redis-url", "redis://cache", "--redis-password-file", "/nonexistent"], "--redis-password-file"),
            (&["--redis-url", "redis://cache", "--fleet-heartbeat-seconds", "0"], "--fleet-heartbeat-seconds"),
        ] {
            let err = serve(args).expect_err("refused");
            assert!(err.contains(flag) && !err.contains("secret"), "{args:?}: {err}");
        }
        let orphan = serve(&["--redis-password-file", "/x"]).expect_err("needs a URL");
        assert!(orphan.contains("--redis-url"), "{orphan}");
    }
}
