//! The code generated from `proto/` by `build.rs`, in one place.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `gamelift.streams.v1`: the StreamSessions service and its messages.
pub mod v1 {
    tonic::include_proto!("gamelift.streams.v1");

    /// A watch RPC's response, for Rust clients that read both watches alike.
    pub trait WatchResponse {
        /// The event it carries (every response carries one).
        fn into_event(self) -> StreamSessionEvent;
    }

    impl WatchResponse for WatchStreamSessionResponse {
        fn into_event(self) -> StreamSessionEvent {
            self.event.unwrap_or_default()
        }
    }

    impl WatchResponse for WatchStreamSessionsResponse {
        fn into_event(self) -> StreamSessionEvent {
            self.event.unwrap_or_default()
        }
    }

    /// The encoded file descriptor set, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("gamelift_streams_v1_descriptor");
}

/// `ivs.realtime.v1`: the Stages service (IVS Real-Time) and its messages.
pub mod ivs {
    tonic::include_proto!("ivs.realtime.v1");

    /// The encoded file descriptor set, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("ivs_realtime_v1_descriptor");
}
