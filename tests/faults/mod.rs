//! The parts of the fleet's fault test (`tests/fleet_faults.rs`), one concern
//! each: what a run records ([`history`]), the checker that reads it and
//! nothing else ([`checker`]), and what makes it: the clients ([`workload`])
//! and the faults ([`nemesis`]).

pub mod checker;
pub mod history;
pub mod nemesis;
pub mod workload;
