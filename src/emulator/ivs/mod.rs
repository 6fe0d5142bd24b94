//! The emulator's Amazon IVS Real-Time part, served on the same port as GameLift
//! Streams from botocore's IVS Real-Time model: stages, participant tokens,
//! stage sessions, participants and their events, and compositions, on the
//! emulator's simulated clock. [`world`] and [`compositions`] are the state
//! machine, [`records`] its shapes, [`responses`] the operations, [`admin`] the
//! simulated clients.

pub mod admin;
mod compositions;
mod records;
pub mod responses;
mod world;

pub use compositions::CompositionRequest;
pub use records::*;
pub use world::{CompositionTimings, IvsWorld, Seat, DEFAULT_TOKEN_MINUTES, MAX_PUBLISHERS};

#[cfg(test)]
mod tests;
