#!/usr/bin/env bash
# Builds the Java example (Maven: grpc-java, protobuf-java, the code generated
# from ../../proto) and runs it against GLS_GATEWAY_ADDRESS. Downloads and the
# build live under the repository's target/examples/java/; Maven's output goes
# to stderr, so stdout carries only the example's lines.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="$repo/target/examples/java"
mkdir -p "$cache"

# Java 17 and Maven, from Debian's packages when missing.
command -v javac >/dev/null || "$repo/tests/debian.sh" openjdk-17-jdk-headless
command -v mvn >/dev/null || "$repo/tests/debian.sh" maven

# Every version is pinned in pom.xml; the local repository is the cache.
(cd "$here" && mvn -q -B -Dstyle.color=never \
  -Dmaven.repo.local="$cache/m2" \
  -Dexample.build.directory="$cache/build" \
  package) >&2

exec java -jar "$cache/build/gamelift-streams-example.jar"
