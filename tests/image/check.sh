#!/usr/bin/env bash
# What CI can prove about the container image without a container engine:
# the release binary is built with the Dockerfile's own `cargo build` line,
# the runtime stage is a base this check knows, runs as a non-root user, and
# every shared library the binary needs (and the glibc symbol versions it
# asks for) is in that base. Prints the binary's size.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tests/debian.sh binutils # readelf

fail() { echo "image check: $*" >&2; exit 1; }

build_line="$(grep -E '^RUN cargo build ' Dockerfile)" || fail "no 'RUN cargo build' line in the Dockerfile"
runtime="$(grep -E '^FROM ' Dockerfile | tail -n 1 | awk '{print $2}')"
user="$(grep -E '^USER ' Dockerfile | tail -n 1 | awk '{print $2}')"

# What each known runtime base provides: shared libraries, and the glibc it ships.
case "$runtime" in
    gcr.io/distroless/cc-debian12:*)
        provided="ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2 librt.so.1 libutil.so.1 libstdc++.so.6"
        glibc="2.36"
        ;;
    *) fail "runtime base $runtime is unknown to this check: add what it provides" ;;
esac
[[ -n "$user" && "${user%%:*}" != "0" && "${user%%:*}" != "root" ]] || fail "the image must run as a non-root USER"

echo "==> ${build_line#RUN } (as the Dockerfile builds it)"
eval "${build_line#RUN }"
binary="${CARGO_TARGET_DIR:-$PWD/target}/release/gamelift-streams-gateway"
test -x "$binary" || fail "$binary was not built"

interpreter="$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')"
[[ "$interpreter" == "/lib64/ld-linux-x86-64.so.2" ]] || fail "unexpected program interpreter '$interpreter'"

needed="$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
for lib in $needed; do
    [[ " $provided " == *" $lib "* ]] || fail "the binary needs $lib, which $runtime does not have"
done

highest="$(readelf --version-info "$binary" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)"
[[ "$(printf '%s\n%s\n' "$highest" "$glibc" | sort -V | tail -n 1)" == "$glibc" ]] \
    || fail "the binary needs glibc $highest, $runtime has $glibc"

"$binary" --version >/dev/null || fail "the binary does not run"
echo "image check: $runtime provides all of: $(echo $needed); glibc needed $highest <= $glibc; USER $user"
echo "image check: binary $(du -h "$binary" | cut -f1) ($(stat -c %s "$binary") bytes)"
