//! Compiles `proto/` into Rust (messages, the tonic server and client) and
//! file descriptor sets for server reflection, with the protoc that ships
//! inside `protoc-bin-vendored`, so no protoc needs installing: the
//! StreamSessions service (`gamelift.streams.v1`) and the Stages service
//! (`ivs.realtime.v1`).
//! `error_reason.proto` is compiled on its own: the ErrorInfo reasons are
//! needed below the layer of the service's code (see `src/reason.rs`). The
//! standard error details (`google/rpc/status.proto`, `error_details.proto`,
//! vendored in `third_party/googleapis`) become a descriptor set only, so
//! reflection lets grpcurl and the like print an error's details.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let well_known = protoc_bin_vendored::include_path()?;
    let includes = ["proto", well_known.to_str().ok_or("include path")?];
    // BTreeMap for proto maps: encoding is then canonical, which request fingerprints rely on.
    // LeanCodec: prost with small per-call buffers (open watch streams hold theirs).
    tonic_prost_build::configure()
        .btree_map(".")
        .codec_path("crate::codec::LeanCodec")
        .file_descriptor_set_path(out.join("gamelift_streams_v1_descriptor.bin"))
        .compile_protos(&["proto/gamelift/streams/v1/stream_sessions.proto"], &includes)?;
    tonic_prost_build::configure()
        .btree_map(".")
        .codec_path("crate::codec::LeanCodec")
        .file_descriptor_set_path(out.join("ivs_realtime_v1_descriptor.bin"))
        .compile_protos(
            &["proto/ivs/realtime/v1/stages.proto", "proto/ivs/realtime/v1/error_reason.proto"],
            &includes,
        )?;
    let reason = out.join("reason");
    std::fs::create_dir_all(&reason)?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        .out_dir(&reason)
        .file_descriptor_set_path(out.join("gamelift_streams_v1_reason_descriptor.bin"))
        .compile_protos(&["proto/gamelift/streams/v1/error_reason.proto"], &includes)?;
    let status = std::process::Command::new(protoc_bin_vendored::protoc_bin_path()?)
        .args(["-Ithird_party/googleapis", "-I", includes[1], "--include_imports", "--descriptor_set_out"])
        .arg(out.join("google_rpc_descriptor.bin"))
        .args(["google/rpc/status.proto", "google/rpc/error_details.proto"])
        .status()?;
    if !status.success() {
        return Err(format!("protoc failed on third_party/googleapis: {status}").into());
    }
    // Any change under proto/ regenerates the code (the builders above
    // announce no file of their own).
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=third_party/googleapis");
    Ok(())
}
