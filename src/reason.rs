//! The `google.rpc.ErrorInfo` every error of the gateway carries: the domain,
//! and the reason as a value of the contract's `ErrorReason` enum (generated
//! from `proto/gamelift/streams/v1/error_reason.proto`), so no reason can be
//! sent that the proto does not list. Nothing here decides a reason.

use std::collections::HashMap;

use tonic_types::ErrorDetails;

/// The code prost generated from `error_reason.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/reason/gamelift.streams.v1.rs"));
}

pub use generated::ErrorReason;

/// The encoded file descriptor set of `error_reason.proto`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("gamelift_streams_v1_reason_descriptor");

/// The encoded file descriptor set of `google/rpc/status.proto` and
/// `google/rpc/error_details.proto` (with their imports), for server
/// reflection: the types of every error's details.
pub const DETAILS_FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("google_rpc_descriptor");

/// The ErrorInfo domain of every error the gateway answers.
pub const DOMAIN: &str = "gameliftstreams.amazonaws.com";

/// Sets `details`' ErrorInfo: `reason` (its value name), the domain, `metadata`.
pub fn set_error_info(details: &mut ErrorDetails, reason: ErrorReason, metadata: HashMap<String, String>) {
    set_error_info_in(DOMAIN, details, reason, metadata);
}

/// The same, in `domain` (the AWS service the RPC calls).
pub fn set_error_info_in(
    domain: &str,
    details: &mut ErrorDetails,
    reason: ErrorReason,
    metadata: HashMap<String, String>,
) {
    details.set_error_info(reason.as_str_name(), domain, metadata);
}
