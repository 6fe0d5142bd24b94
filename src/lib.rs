//! gamelift-streams-gateway: a gRPC sidecar for Amazon GameLift Streams, and the
//! GameLift Streams emulator it is developed and tested against.

pub mod config;
pub mod emulator;
pub mod proto;
pub mod service_model;
