#!/usr/bin/env bash
# The fresh-machine rehearsal: runs the README's test command as a new
# machine of the project's kind would, on this one. A clean clone alone
# cannot show a missing install step, because this machine keeps what
# earlier runs installed; this script takes that away first:
#
#   1. removes (apt-get purge) every Debian package the tests installed:
#      those tests/debian.sh recorded, and those an older tests/debian.sh
#      installed before it kept a record (apt's history, by its command line);
#   2. points every cache a new machine would not have at an empty directory:
#      CARGO_HOME (the crates), CARGO_TARGET_DIR (the clone's own target/),
#      Go's module and build caches, Maven's local repository, npm's and
#      pip's caches, XDG_CACHE_HOME; the virtual environment and every
#      example's cache live under the clone's target/, so they are new too;
#   3. clones HEAD (committed work only) into a temporary directory and runs
#      the command there, then prints its result and how long it took.
#
# Usage:
#   tests/fresh-machine.sh [--keep]              the README's test command
#   tests/fresh-machine.sh [--keep] COMMAND...   another command, in the clone
#   tests/fresh-machine.sh [--keep] --each       every test file alone, in a
#       shuffled order (the seed is printed; GLS_SEED=N repeats it), each
#       after its own removal step (steps 2 and 3 happen once)
#   --keep    keep the temporary directory (clone, caches, logs) afterwards
# What the commands print goes to the terminal and to logs in the temporary
# directory. Needs root or sudo (apt-get purge).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The test files --each runs alone: every Python file, each example on its
# own, and the Rust tests that run a program from Debian.
EACH=(
    "bash tests/pytest.sh tests/interop/test_csharp.py"
    "bash tests/pytest.sh tests/interop/test_emulator_boto3.py"
    "bash tests/pytest.sh tests/interop/test_emulator_ivs_boto3.py"
    "bash tests/pytest.sh tests/interop/test_emulator_ivs_js.py"
    "bash tests/pytest.sh tests/interop/test_gateway_grpcio.py"
    "bash tests/pytest.sh tests/interop/test_grpcurl.py"
    "bash tests/pytest.sh tests/interop/test_go_outside.py"
    "bash tests/pytest.sh tests/chart/test_chart.py"
    "bash tests/pytest.sh tests/interop/test_examples.py::test_the_example_runs_its_whole_script[go]"
    "bash tests/pytest.sh tests/interop/test_examples.py::test_the_example_runs_its_whole_script[cpp]"
    "bash tests/pytest.sh tests/interop/test_examples.py::test_the_example_runs_its_whole_script[java]"
    "bash tests/pytest.sh tests/interop/test_examples.py::test_the_example_runs_its_whole_script[typescript]"
    "bash tests/pytest.sh tests/interop/test_examples.py::test_the_example_runs_its_whole_script[python]"
    "bash tests/pytest.sh tests/interop/test_examples.py::test_an_example_without_the_token_is_refused"
    "cargo test --test fleet"
    "cargo test --test fleet_stages"
    "bash tests/buf/check.sh"
    "bash tests/image/check.sh"
)

keep=false
if [[ "${1:-}" == "--keep" ]]; then
    keep=true
    shift
fi
commands=()
if [[ "${1:-}" == "--each" ]]; then
    seed="${GLS_SEED:-$RANDOM}"
    mapfile -t commands < <(printf '%s\n' "${EACH[@]}" | shuf --random-source=<(yes "$seed"))
    echo "fresh-machine: --each, ${#commands[@]} commands, seed $seed" >&2
elif (($#)); then
    commands=("$(printf '%q ' "$@")")
else
    # The README's test command, from its table of two commands.
    commands=("$(sed -n 's/^| run every test .*| `\(.*\)` |$/\1/p' "$repo/README.md")")
    [[ -n "${commands[0]}" ]] || { echo "fresh-machine: no test command found in README.md" >&2; exit 2; }
fi

sudo=""
[[ "$(id -u)" == 0 ]] || sudo="sudo"
record="$("$repo/tests/debian.sh" --record)"

# 1. The packages the tests installed.
from_record() { [[ -f "$record" ]] && cat "$record"; return 0; }
# apt's history: the packages (named and automatic) of each `apt-get install`
# whose command line is tests/debian.sh's.
from_history() {
    local logs=(/var/log/apt/history.log*)
    [[ -e "${logs[0]}" ]] || return 0
    zcat -f "${logs[@]}" | awk '
        /^Commandline: .*apt-get install .*-o DPkg::Lock::Timeout=600 / { ours = 1; next }
        /^Commandline:/ { ours = 0 }
        ours && /^Install: / {
            sub(/^Install: /, "")
            gsub(/ \([^)]*\)/, "")
            n = split($0, names, /, /)
            for (i = 1; i <= n; i++) { sub(/:.*/, "", names[i]); print names[i] }
        }'
}
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
remove_packages() {
    local packages=() package
    while read -r package; do
        [[ -n "$package" ]] && is_installed "$package" && packages+=("$package")
    done < <({ from_record; from_history; } | sort -u)
    if ((${#packages[@]})); then
        echo "fresh-machine: removing ${#packages[@]} Debian packages the tests installed: ${packages[*]}" >&2
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=600 "${packages[@]}" >/dev/null
        for package in "${packages[@]}"; do
            ! is_installed "$package" || { echo "fresh-machine: $package is still installed" >&2; exit 1; }
        done
    else
        echo "fresh-machine: no Debian package installed by the tests is on this machine" >&2
    fi
    rm -f "$record"
}

# 2. Empty caches.
root="$(mktemp -d "${TMPDIR:-/tmp}/fresh-machine.XXXXXX")"
$keep || trap 'rm -rf "$root"' EXIT
unset CARGO_TARGET_DIR
export CARGO_HOME="$root/cargo-home"
export GOPATH="$root/go" GOMODCACHE="$root/go/pkg/mod" GOCACHE="$root/go-build"
export MAVEN_OPTS="-Dmaven.repo.local=$root/m2"
export npm_config_cache="$root/npm-cache"
export PIP_CACHE_DIR="$root/pip-cache" XDG_CACHE_HOME="$root/cache"

# 3. A clean clone of HEAD, and the commands.
[[ -z "$(git -C "$repo" status --porcelain)" ]] \
    || echo "fresh-machine: uncommitted changes are not in the clone: it runs HEAD, $(git -C "$repo" rev-parse --short HEAD)" >&2
git clone -q "$repo" "$root/clone"
cd "$root/clone"
head="$(git rev-parse --short HEAD)"
failed=0
summary=()
for i in "${!commands[@]}"; do
    remove_packages
    echo "fresh-machine: running '${commands[$i]}' in $root/clone ($head)" >&2
    started=$SECONDS
    status=0
    bash -c "${commands[$i]}" 2>&1 | tee "$root/log.$i" || status=${PIPESTATUS[0]}
    elapsed=$((SECONDS - started))
    result=PASSED
    ((status == 0)) || { result="FAILED (exit $status)"; failed=1; }
    summary+=("$(printf 'fresh-machine: %s in %d min %02d s: %s (HEAD %s)' \
        "$result" $((elapsed / 60)) $((elapsed % 60)) "${commands[$i]}" "$head")")
done
printf '%s\n' "${summary[@]}"
$keep && echo "fresh-machine: kept $root (clone, caches, logs)"
exit "$failed"
