#!/usr/bin/env bash
# The v1 contracts' gate (StreamSessions and Stages): `buf lint` (STANDARD, with the exceptions buf.yaml
# gives reasons for) and `buf breaking` (FILE) against the committed
# baseline, tests/buf/v1-baseline.json, so a breaking change to proto/ fails
# the test command. Then proves the gate can close: a copy of proto/ with
# one field's type changed must fail `buf breaking`.
#
# The baseline is the v1 contract as first frozen. It is never rewritten to
# let a breaking change through; after additions it may be refreshed with
#   tests/buf/buf.sh build --exclude-source-info -o '-#format=json' \
#     | python3 -m json.tool > tests/buf/v1-baseline.json
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
buf="$repo/tests/buf/buf.sh"
baseline="$repo/tests/buf/v1-baseline.json"
cd "$repo"

"$buf" lint
"$buf" breaking --against "$baseline"
echo "buf lint and buf breaking: clean"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -r proto buf.yaml "$tmp/"
sed -i 's/int64 revision = 5;/uint64 revision = 5;/' "$tmp/proto/gamelift/streams/v1/stream_sessions.proto"
if (cd "$tmp" && "$buf" breaking --against "$baseline") >"$tmp/out" 2>&1; then
    echo "buf breaking did not catch a field whose type changed" >&2
    exit 1
fi
grep -q 'revision' "$tmp/out" || { cat "$tmp/out" >&2; exit 1; }
# The Stages contract is in the baseline too.
cp proto/gamelift/streams/v1/stream_sessions.proto "$tmp/proto/gamelift/streams/v1/"
sed -i 's/bool published = 6;/int32 published = 6;/' "$tmp/proto/ivs/realtime/v1/stages.proto"
if (cd "$tmp" && "$buf" breaking --against "$baseline") >"$tmp/out" 2>&1; then
    echo "buf breaking did not catch a Stages field whose type changed" >&2
    exit 1
fi
grep -q 'published' "$tmp/out" || { cat "$tmp/out" >&2; exit 1; }
echo "buf breaking: a changed field type fails, as it must (both contracts)"
