//! Compiles `proto/` into Rust (messages, the tonic server and client) and a
//! file descriptor set for server reflection, with the protoc that ships inside
//! `protoc-bin-vendored`, so no protoc needs installing.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    let descriptor = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("gamelift_streams_v1_descriptor.bin");
    // BTreeMap for proto maps: encoding is then canonical, which request fingerprints rely on.
    // LeanCodec: prost with small per-call buffers (open watch streams hold theirs).
    tonic_prost_build::configure()
        .btree_map(".")
        .codec_path("crate::codec::LeanCodec")
        .file_descriptor_set_path(descriptor)
        .compile_protos(
            &["proto/gamelift/streams/v1/stream_sessions.proto"],
            &["proto", protoc_bin_vendored::include_path()?.to_str().ok_or("include path")?],
        )?;
    Ok(())
}
