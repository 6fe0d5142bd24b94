//! gamelift-streams-gateway: a gRPC sidecar for Amazon GameLift Streams, and the
//! GameLift Streams emulator it is developed and tested against.

pub mod api;
pub mod auth;
pub mod codec;
pub mod config;
pub mod connections;
pub mod emulator;
pub mod proto;
pub mod server;
pub mod service_model;
pub mod sessions;
pub mod sync;
pub mod telemetry;
pub mod wire;
