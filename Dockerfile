# The gateway's container image: built in Rust's Debian 12 image, run on
# distroless cc-debian12 (glibc, libgcc, CA roots; no shell) as the nonroot user.
# tests/image/check.sh builds the binary with this file's `cargo build` line
# and checks its libraries against this runtime base (no container engine needed).
#
#   docker build -t gamelift-streams-gateway .
#   docker run --rm -p 50051:50051 -e GLS_GATEWAY_LISTEN=0.0.0.0:50051 gamelift-streams-gateway serve --emulator

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin gamelift-streams-gateway

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/gamelift-streams-gateway /usr/local/bin/gamelift-streams-gateway
USER 65532:65532
EXPOSE 50051 50052 9464
ENTRYPOINT ["/usr/local/bin/gamelift-streams-gateway"]
CMD ["serve"]
