//! gamelift-streams-gateway: a gRPC sidecar for Amazon GameLift Streams, and the
//! GameLift Streams emulator it is developed and tested against.

pub mod api;
pub mod auth;
pub mod codec;
pub mod config;
pub mod connections;
pub mod convert;
pub mod emulator;
pub mod fleet;
pub mod proto;
pub mod reason;
pub mod server;
pub mod service_model;
pub mod sessions;
pub mod stages;
pub mod sync;
pub mod telemetry;
pub mod wire;

/// The instrumentation scope of every span and metric (and the default
/// service name): every layer names its instruments with it.
pub const SCOPE: &str = "gamelift-streams-gateway";
