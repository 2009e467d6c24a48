#!/usr/bin/env bash
# Builds the shipped binary exactly as the Dockerfile does (same command, same flags; a test in
# internal/packaging keeps the two in step) and checks its size, so CI catches a binary that
# would bloat the action image without needing a Docker engine.
#
#   hack/build.sh [OUTPUT]   default OUTPUT: dist/fleetpush
#   FLEETPUSH_MAX_BYTES      size limit in bytes (default 42 MB)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist/fleetpush}
max=${FLEETPUSH_MAX_BYTES:-42000000}
mkdir -p "$(dirname "$out")"

CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out" .

size=$(wc -c <"$out")
size=${size//[[:space:]]/}
echo "build: $out is $size bytes ($((size / 1000000)) MB; limit $((max / 1000000)) MB)" >&2
if ((size > max)); then
	echo "build: $out is larger than $max bytes: look for a new dependency that pulls in a large tree (go version -m $out lists them)" >&2
	exit 1
fi
