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
if ! command -v javac >/dev/null || ! command -v mvn >/dev/null; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >&2
fi

# Every version is pinned in pom.xml; the local repository is the cache.
(cd "$here" && mvn -q -B -Dstyle.color=never \
  -Dmaven.repo.local="$cache/m2" \
  -Dexample.build.directory="$cache/build" \
  package) >&2

exec java -jar "$cache/build/gamelift-streams-example.jar"
