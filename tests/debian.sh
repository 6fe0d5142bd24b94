#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet
# (with sudo when not root; `apt-get update` first), quietly, on stderr. The
# one way the test command and the examples' scripts install what a clean
# machine lacks: every script calls it for each package it compiles against,
# links against or runs, whatever ran before it.
#
# Every package an install adds (those named and their dependencies) is
# appended to the record, $GLS_DEBIAN_RECORD or
# ~/.local/state/gamelift-streams-gateway/debian-installed, which
# tests/fresh-machine.sh reads to take the machine back to what a new one has.
#
#   tests/debian.sh PACKAGE...   install what is missing
#   tests/debian.sh --record     print the record's path
set -euo pipefail
record="${GLS_DEBIAN_RECORD:-$HOME/.local/state/gamelift-streams-gateway/debian-installed}"
if [[ "${1:-}" == "--record" ]]; then
    echo "$record"
    exit 0
fi

installed() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null | awk '$1 == "ii" {print $2}' | sort -u; }

missing=()
for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
((${#missing[@]})) || exit 0
sudo=""
[[ "$(id -u)" == 0 ]] || sudo="sudo"
echo "apt-get install ${missing[*]}" >&2
before="$(installed)"
$sudo apt-get update -qq >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
mkdir -p "$(dirname "$record")"
comm -13 <(echo "$before") <(installed) >>"$record"
