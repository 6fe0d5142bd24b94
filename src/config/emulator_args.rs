//! The `emulator` command's flags, validated into the emulator's settings.

use std::net::SocketAddr;

use clap::Args;

use super::{check_rates, invalid, pair, seconds, ConfigError};
use crate::emulator::{self, EmulatorConfig, Timings, WorldConfig};

/// Flags of `emulator`.
#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "GLS_EMULATOR_LISTEN", default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,
    /// Region named in ARNs, and the seeded stream group's location.
    #[arg(long, env = "GLS_EMULATOR_REGION", default_value = "us-west-2")]
    pub region: String,
    /// The 12-digit account named in ARNs.
    #[arg(long, env = "GLS_EMULATOR_ACCOUNT_ID", default_value = "111122223333")]
    pub account_id: String,
    /// Stream capacity of the seeded stream group in a location, as LOCATION=N
    /// (repeatable; default: the region with 4).
    #[arg(long = "capacity", env = "GLS_EMULATOR_CAPACITY", value_delimiter = ',', value_parser = pair::<u32>)]
    pub capacity: Vec<(String, u32)>,
    /// Simulated seconds per real second.
    #[arg(long, env = "GLS_EMULATOR_TIME_SCALE", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Simulated seconds from placement to ACTIVE.
    #[arg(long, env = "GLS_EMULATOR_ACTIVATION_SECONDS", default_value_t = 5.0)]
    pub activation_seconds: f64,
    /// Simulated seconds a session waits for capacity before ERROR placementTimeout.
    #[arg(long, env = "GLS_EMULATOR_PLACEMENT_TIMEOUT_SECONDS", default_value_t = 75.0)]
    pub placement_timeout_seconds: f64,
    /// Simulated seconds from RECONNECTING to ACTIVE.
    #[arg(long, env = "GLS_EMULATOR_RECONNECT_SECONDS", default_value_t = 1.0)]
    pub reconnect_seconds: f64,
    /// Simulated seconds from TERMINATING to TERMINATED.
    #[arg(long, env = "GLS_EMULATOR_TERMINATION_SECONDS", default_value_t = 2.0)]
    pub termination_seconds: f64,
    /// Simulated seconds for a new stream group to become ACTIVE and a new
    /// application READY.
    #[arg(long, env = "GLS_EMULATOR_PROVISIONING_SECONDS", default_value_t = 30.0)]
    pub provisioning_seconds: f64,
    /// Requests per second allowed for one operation, as OPERATION=N
    /// (repeatable; overrides AWS's published limit for that operation).
    #[arg(long = "rate-limit", env = "GLS_EMULATOR_RATE_LIMITS", value_delimiter = ',', value_parser = pair::<f64>)]
    pub rate_limits: Vec<(String, f64)>,
    /// Switch every rate limit off.
    #[arg(long, env = "GLS_EMULATOR_NO_RATE_LIMITS")]
    pub no_rate_limits: bool,
    /// Seed of the fault-injection dice (random when absent).
    #[arg(long, env = "GLS_EMULATOR_SEED")]
    pub seed: Option<u64>,
}

fn is_location(name: &str) -> bool {
    (1..=20).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The seeded stream group's capacity: `capacity` (LOCATION=N flags), or 4
/// in `region` when none is given; `flag` names the flag of a bad location.
pub(super) fn capacity_in(
    region: &str,
    capacity: &[(String, u32)],
    flag: &'static str,
) -> Result<Vec<(String, u32)>, ConfigError> {
    let capacity = if capacity.is_empty() { vec![(region.to_string(), 4)] } else { capacity.to_vec() };
    match capacity.iter().find(|(loc, _)| !is_location(loc)) {
        Some((bad, _)) => Err(invalid(flag, format!("'{bad}' is not a location name"))),
        None => Ok(capacity),
    }
}

/// Fails unless `region` can be a Region's name; `flag` names the flag.
pub(super) fn check_region(region: &str, flag: &'static str) -> Result<(), ConfigError> {
    if is_location(region) {
        Ok(())
    } else {
        Err(invalid(flag, format!("'{region}' is not a Region name")))
    }
}

impl EmulatorArgs {
    /// Validates the flags into an emulator configuration.
    pub fn to_config(&self) -> Result<EmulatorConfig, ConfigError> {
        check_region(&self.region, "region")?;
        if self.account_id.len() != 12 || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid("account-id", "must be 12 digits"));
        }
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(invalid("time-scale", "must be a number > 0"));
        }
        let capacity = capacity_in(&self.region, &self.capacity, "capacity")?;
        let mut config = EmulatorConfig {
            world: WorldConfig {
                region: self.region.clone(),
                account_id: self.account_id.clone(),
                capacity,
                timings: Timings {
                    activation: seconds("activation-seconds", self.activation_seconds)?,
                    placement_timeout: seconds("placement-timeout-seconds", self.placement_timeout_seconds)?,
                    reconnect: seconds("reconnect-seconds", self.reconnect_seconds)?,
                    termination: seconds("termination-seconds", self.termination_seconds)?,
                    provisioning: seconds("provisioning-seconds", self.provisioning_seconds)?,
                },
            },
            time_scale: self.time_scale,
            seed: self.seed,
            ..EmulatorConfig::default()
        };
        if self.no_rate_limits {
            config.rate_limits.clear();
        }
        check_rates(&self.rate_limits, emulator::is_operation, "a GameLift Streams operation")?;
        config.rate_limits.extend(self.rate_limits.iter().cloned());
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<EmulatorConfig, String> {
        let cli = Cli::try_parse_from(["gamelift-streams-gateway", "emulator"].iter().chain(args))
            .map_err(|e| e.to_string())?;
        match cli.command {
            Command::Emulator(args) => args.to_config().map_err(|e| e.to_string()),
            Command::Serve(_) => Err("not emulator".into()),
        }
    }

    #[test]
    fn defaults_are_aws_limits_and_four_slots_in_the_region() {
        let config = parse(&[]).expect("defaults are valid");
        assert_eq!(config, EmulatorConfig::default());
        assert_eq!(config.rate_limits["StartStreamSession"], 20.0);
        assert_eq!(config.rate_limits["CreateStreamGroup"], 1.0);
    }

    #[test]
    fn repeated_and_overriding_flags() {
        let config = parse(&[
            "--capacity",
            "us-west-2=1",
            "--capacity",
            "us-east-2=3",
            "--rate-limit",
            "GetStreamSession=2",
            "--time-scale",
            "60",
        ])
        .expect("valid");
        assert_eq!(config.world.capacity, vec![("us-west-2".into(), 1), ("us-east-2".into(), 3)]);
        assert_eq!(config.rate_limits["GetStreamSession"], 2.0);
        assert_eq!(config.time_scale, 60.0);
        assert!(parse(&["--no-rate-limits"]).expect("valid").rate_limits.is_empty());
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (vec!["--time-scale", "0"], "--time-scale"),
            (vec!["--account-id", "12"], "--account-id"),
            (vec!["--rate-limit", "NoSuchOp=3"], "--rate-limit"),
            (vec!["--activation-seconds=-1"], "--activation-seconds"),
            (vec!["--capacity", "us west=1"], "--capacity"),
        ] {
            let err = parse(&args).expect_err("must be rejected");
            assert!(err.contains(flag), "{err}");
        }
        assert!(parse(&["--capacity", "us-west-2"]).expect_err("no =").contains("NAME=VALUE"));
    }
}
