#!/usr/bin/env bash
# Runs the benchmarks behind the README's performance table and prints it. The targets (for the
# 2-core development machines) live here and in the benchmarks' comments, never in timed tests:
# shared machines are too noisy for a test to fail on time.
#
#   hack/bench.sh            every benchmark, 5 iterations each
#   BENCHTIME=10x hack/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export FLEETPUSH_TOOLS=${FLEETPUSH_TOOLS:-$HOME/.cache/fleetpush/tools}
bash hack/tools.sh
benchtime=${BENCHTIME:-5x}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run() { go test -run '^$' -bench "$1" -benchtime "$benchtime" -benchmem "$2" | tee -a "$out" >&2; }
run 'BenchmarkPublish50$|BenchmarkPublish50Disk$' ./internal/app
run 'BenchmarkDetect$' ./internal/gitdiff
run 'BenchmarkValidate150Overlays$' ./internal/kustomize
run 'BenchmarkSign50$' ./internal/sign
run 'BenchmarkBuild$' ./internal/artifact

# target per benchmark (seconds per operation), from the issues
declare -A target=(
	[BenchmarkPublish50/cold]=1 [BenchmarkPublish50/warm]=0.3
	[BenchmarkDetect/push]=1 [BenchmarkDetect/pull_request]=1
	[BenchmarkValidate150Overlays]=1
)
printf '\n%-40s %12s %8s  %s\n' benchmark "time/op" target "other metrics"
awk '/^Benchmark/ {
	name=$1; sub(/-[0-9]+$/, "", name); ns=$3
	extra=""
	for (i = 5; i < NF; i += 2) if ($(i+1) != "B/op" && $(i+1) != "allocs/op") extra = extra $i " " $(i+1) "  "
	printf "%s\t%.3f\t%s\n", name, ns / 1e9, extra
}' "$out" | while IFS=$'\t' read -r name secs extra; do
	printf '%-40s %10ss %8s  %s\n' "$name" "$secs" "${target[$name]:+<${target[$name]}s}" "$extra"
done
