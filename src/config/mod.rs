//! Command-line flags with their environment variables, parsed once by clap and
//! validated into the settings each layer defines and owns (`serve` in
//! `serve_args`, `emulator` in `emulator_args`). Nothing else reads the environment;
//! nothing below imports this module.

mod emulator_args;
mod serve_args;

pub use emulator_args::EmulatorArgs;
pub use serve_args::{ServeArgs, ServeConfig};

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "gamelift-streams-gateway", version, about)]
pub struct Cli {
    /// Log lines as human-readable text or as JSON objects (one per line).
    #[arg(long, global = true, env = "GLS_GATEWAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Let RUST_LOG open the SDK's, HTTP's and gRPC's own debug logs, which
    /// carry request bodies (signal requests, IP addresses) and the AWS access
    /// key id. For debugging only; a warning is logged at start.
    #[arg(long, global = true, env = "GLS_GATEWAY_LOG_WIRE_UNSAFE")]
    pub log_wire_unsafe: bool,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// A value that must never be printed (its Debug is redacted).
#[derive(Clone)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway: the StreamSessions gRPC service in front of GameLift
    /// Streams, with gRPC health and reflection.
    Serve(Box<ServeArgs>),
    /// Run the GameLift Streams emulator: the service's REST-JSON API on a
    /// simulated clock, for development and tests without an AWS account.
    Emulator(EmulatorArgs),
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// The value is out of range or malformed.
    #[error("--{flag}: {reason}")]
    Invalid {
        /// The flag's name.
        flag: &'static str,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(flag: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { flag, reason: reason.into() }
}

fn pair<T: FromStr>(raw: &str) -> Result<(String, T), String> {
    let (name, value) = raw.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, got '{raw}'"))?;
    let value = value.trim().parse().map_err(|_| format!("'{value}' is not a valid number in '{raw}'"))?;
    Ok((name.trim().to_string(), value))
}

fn seconds(flag: &'static str, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(invalid(flag, format!("must be a number of seconds >= 0, got {value}")))
    }
}

/// Checks `--rate-limit` pairs: each names an operation `known` accepts
/// (`what` says which ones) and a rate > 0.
fn check_rates(rates: &[(String, f64)], known: impl Fn(&str) -> bool, what: &str) -> Result<(), ConfigError> {
    for (op, rate) in rates {
        if !known(op) {
            return Err(invalid("rate-limit", format!("{op} is not {what}")));
        }
        if !(rate.is_finite() && *rate > 0.0) {
            return Err(invalid("rate-limit", format!("the rate of {op} must be > 0")));
        }
    }
    Ok(())
}

fn positive_duration(flag: &'static str, value: f64) -> Result<Duration, ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(invalid(flag, format!("must be a number of seconds > 0, got {value}")))
    }
}
