#!/usr/bin/env bash
# Runs the benchmarks behind the README's performance table and prints them against the targets
# of the issues. The targets (for the 2-core development machines) live here and in the
# benchmarks' comments, never in timed tests: shared machines are too noisy for a test to fail on
# time.
#
#   hack/bench.sh                  every group below
#   hack/bench.sh publish scale    some groups: keyless d2 publish scale sign registry detect
#                                  validate build
#   BENCHTIME=10x hack/bench.sh    iterations of the quick benchmarks (default 5x)
#   SCALE_BENCHTIME=3x ...         iterations of the 500-component runs (default 1x)
#   KEYLESS_BENCHTIME=8x ...       iterations of the keyless 50-component runs (default 6x; an op
#                                  of the paired benchmark is two runs: keep it even, so each
#                                  format runs first as often)
#   D2_BENCHTIME=3x ...            iterations of the D2 loop (default 1x: a keyless loop takes ~40 s)
#   hack/bench.sh prune            prune of 2,000 versions (not in the default list: distribution
#                                  reads every tag of the repository on each manifest DELETE, so
#                                  it takes many minutes); FLEETPUSH_BENCH_PRUNE_VERSIONS=500 for a
#                                  smaller repository
#
#   hack/bench.sh latency          issue 19's latency benchmark, not among the default groups: it
#                                  takes about 10 minutes (a D2 loop of 50 components keyless, with
#                                  latency, about 100 s). The registry, Fulcio and Rekor sit behind
#                                  proxies that hold each request FLEETPUSH_BENCH_REGISTRY_MS,
#                                  _FULCIO_MS, _REKOR_MS, _TOKEN_MS (default 30, 150, 300, 0;
#                                  0 = none). With the defaults below it took 7 minutes on a
#                                  loaded 2-core machine, 11 with LATENCY50_BENCHTIME=2x.
#   LATENCY_BENCHTIME=5x ...       iterations of its 1- and 3-component cases (default 3x)
#   LATENCY50_BENCHTIME=2x ...     iterations of its 50-component cases (default 1x)
#   LATENCY_TIMELINE=FILE ...      keep the critical path's timeline there (default: printed)
#
# A row whose benchmark has not run (another group, or not written yet) shows "-".
set -euo pipefail
cd "$(dirname "$0")/.."
export FLEETPUSH_TOOLS=${FLEETPUSH_TOOLS:-$HOME/.cache/fleetpush/tools}
bash hack/tools.sh
benchtime=${BENCHTIME:-5x}
scaletime=${SCALE_BENCHTIME:-1x}
keylesstime=${KEYLESS_BENCHTIME:-6x}
d2time=${D2_BENCHTIME:-1x}
latencytime=${LATENCY_BENCHTIME:-3x}
latency50time=${LATENCY50_BENCHTIME:-1x}
groups=${*:-keyless d2 publish scale sign registry detect validate build}
out=$(mktemp)
table=$(mktemp)
timeline=${LATENCY_TIMELINE:-$(mktemp)}
trap 'rm -f "$out" "$table"; [[ -n "${LATENCY_TIMELINE:-}" ]] || rm -f "$timeline"' EXIT

want() { [[ " $groups " == *" $1 "* ]]; }
# The D2 loop needs the whole flux CLI, which only the benchmarks use.
if want d2 || want latency; then bash hack/tools.sh flux; fi
run() { go test -run '^$' -bench "$1" -benchtime "$2" -benchmem "$3" | tee -a "$out" >&2; }
want keyless && run 'BenchmarkPublishKeyless50$' "$keylesstime" ./internal/app
want d2 && run 'BenchmarkD2Loop50$' "$d2time" ./internal/app
want publish && run 'BenchmarkPublish50$|BenchmarkPublish50Disk$' "$benchtime" ./internal/app
want scale && run 'BenchmarkScale$' "$scaletime" ./internal/app
want sign && run 'BenchmarkSign50$|BenchmarkSign50Formats$' "$benchtime" ./internal/sign
want registry && run 'BenchmarkRoundTrips$' "$benchtime" ./internal/registry
want detect && run 'BenchmarkDetect$' "$benchtime" ./internal/gitdiff
want validate && run 'BenchmarkValidate150Overlays$' "$benchtime" ./internal/kustomize
want build && run 'BenchmarkBuild$' "$benchtime" ./internal/artifact
if want latency; then
	# Three runs of the test binary, so that each gets its own iterations; the 50-component D2
	# loops outlast go test's default ten-minute timeout when iterated.
	load_before=$(uptime)
	: >"$timeline"
	lrun() { FLEETPUSH_BENCH_TIMELINE=$timeline go test -timeout 0 -run '^$' -bench "$1" -benchtime "$2" ./internal/app | tee -a "$out" >&2; }
	lrun 'BenchmarkLatency/net/^critical-path|BenchmarkLatency/net/keyless/^(1|3)$' "$latencytime"
	lrun 'BenchmarkLatency/net/keyless/^50$' "$latency50time"
	lrun 'BenchmarkLatency/loopback/(keyless|unsigned)/^50$' "$latency50time"
	load_after=$(uptime)
fi
# Past go test's default 10-minute timeout on a loaded machine.
want prune && go test -run '^$' -bench 'BenchmarkPrune$' -benchtime 1x -benchmem -timeout 2h ./internal/app | tee -a "$out" >&2

# One line per benchmark: name, seconds per op, then "unit=value" for each reported metric.
awk '/^Benchmark/ {
	name=$1; sub(/-[0-9]+$/, "", name)
	line=name "\t" sprintf("%.3f", $3 / 1e9)
	for (i = 5; i < NF; i += 2) if ($(i+1) != "B/op" && $(i+1) != "allocs/op") line=line "\t" $(i+1) "=" $i
	print line
}' "$out" >"$table"

# secs NAME: seconds per op; metric NAME UNIT: a reported metric ("" when absent).
secs() { awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$table"; }
metric() { awk -F'\t' -v n="$1" -v u="$2" '$1 == n { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == u) print kv[2] } }' "$table"; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

# Issue 19: the everyday push across a real network (BenchmarkLatency). Each case prints the
# mean with the lowest and highest run in brackets; the ratio's brackets are the lowest and
# highest of the ops' pairs (fleetpush and D2 in the same op).
latency_table() {
	# lrow LABEL MEAN MIN MAX UNIT TARGET-OP TARGET: a row with the spread beside the mean, met
	# or not on the mean.
	lrow() {
		local label=$1 mean=$2 lo=$3 hi=$4 unit=$5 op=$6 target=$7 met=""
		if [[ -z "$mean" ]]; then
			printf '%-46s %24s %10s  %s\n' "$label" - "${op:+$op $target$unit}" ""
			return
		fi
		if [[ -n "$op" ]]; then
			if awk -v v="$mean" -v t="$target" 'BEGIN { exit !(v <= t) }'; then met=yes; else met=NO; fi
		fi
		printf '%-46s %24s %10s  %s\n' "$label" "$(calc "$mean" 3) ($(calc "$lo" 3)–$(calc "$hi" 3))$unit" "${op:+$op $target$unit}" "$met"
	}
	# info LABEL VALUE: a row without a target.
	info() { printf '%-46s %24s\n' "$1" "$2"; }
	# nums SEP VALUE...: values with one decimal, "-" when absent.
	nums() {
		local sep=$1 out="" v
		shift
		for v in "$@"; do out+="${out:+$sep}$([[ -n "$v" ]] && calc "$v" 1 || echo -)"; done
		echo "$out"
	}
	# lcase NAME LABEL COLD-TARGET RERUN-TARGET D2-COLD: both phases of one case (targets are
	# "<=" ratios; "" for none).
	lcase() {
		local n=$1 label=$2 phase
		for phase in cold rerun; do
			local target=$3 d2=$5 what="$label, cold"
			[[ $phase == rerun ]] && target=$4 d2="flux diff only" what="$label, re-run"
			lrow "$what: fleetpush" "$(metric "$n" "fleetpush-$phase-s")" "$(metric "$n" "fleetpush-$phase-min-s")" "$(metric "$n" "fleetpush-$phase-max-s")" s "" ""
			lrow "  D2 loop ($d2)" "$(metric "$n" "d2-$phase-s")" "$(metric "$n" "d2-$phase-min-s")" "$(metric "$n" "d2-$phase-max-s")" s "" ""
			lrow "  fleetpush / D2" "$(metric "$n" "$phase-x")" "$(metric "$n" "$phase-min-x")" "$(metric "$n" "$phase-max-x")" x "${target:+<=}" "$target"
			info "  registry requests/component, fleetpush / D2" "$(nums " / " "$(metric "$n" "fleetpush-$phase-requests/component")" "$(metric "$n" "d2-$phase-requests/component")")"
			local cpu busy
			cpu=$(metric "$n" "fleetpush-$phase-cpu-s") busy=$(metric "$n" "fleetpush-$phase-machine-busy")
			info "  fleetpush's CPU; machine busy (all cores)" "$([[ -n "$cpu" ]] && calc "$cpu" 2 || echo -) s; $([[ -n "$busy" ]] && calc "$busy * 100" 0 || echo -)%"
		done
	}
	printf '\n%-46s %24s %10s  %s\n' "latency (issue 19)" "mean (min–max)" target met
	printf 'machine: %s cores; load average before: %s; after: %s\n' "$(nproc)" "${load_before##*average: }" "${load_after##*average: }"
	printf 'each request held: registry %s ms, Fulcio %s ms, Rekor %s ms, token service %s ms (net cases); loopback: none\n' \
		"${FLEETPUSH_BENCH_REGISTRY_MS:-30}" "${FLEETPUSH_BENCH_FULCIO_MS:-150}" "${FLEETPUSH_BENCH_REKOR_MS:-300}" "${FLEETPUSH_BENCH_TOKEN_MS:-0}"
	local cp phase
	for cp in BenchmarkLatency/net/critical-path BenchmarkLatency/net/critical-path-d2; do
		local who=fleetpush
		[[ $cp == *-d2 ]] && who="D2 loop"
		for phase in run rerun; do
			local what="critical path, 1 keyless, cold, $who"
			[[ $phase == rerun ]] && what="  the same re-run"
			lrow "$what" "$(metric $cp $phase-s)" "$(metric $cp $phase-min-s)" "$(metric $cp $phase-max-s)" s "" ""
			info "  requests: registry / Fulcio / Rekor" "$(nums " / " "$(metric $cp $phase-registry-requests)" "$(metric $cp $phase-fulcio-requests)" "$(metric $cp $phase-rekor-requests)")"
			local idle
			idle=$(metric $cp $phase-idle-s)
			info "  one after another (registry of them); idle" "$(nums "" "$(metric $cp $phase-sequential-requests)") ($(nums "" "$(metric $cp $phase-sequential-registry-requests)")); $([[ -n "$idle" ]] && calc "$idle * 1000" 0 || echo -) ms"
		done
	done
	local v3="flux + cosign v3 sign" k50=BenchmarkLatency/net/keyless/50
	lcase BenchmarkLatency/net/keyless/1 "1 component keyless" 0.5 0.8 "$v3"
	lcase BenchmarkLatency/net/keyless/3 "3 components keyless" "" "" "$v3"
	lcase $k50 "50 components keyless" 0.05 0.05 "$v3"
	local fulcio rekor
	fulcio=$(metric $k50 fleetpush-cold-fulcio/component) rekor=$(metric $k50 fleetpush-cold-rekor/component)
	info "  Fulcio / Rekor requests/component, fleetpush" "$([[ -n "$fulcio" ]] && calc "$fulcio" 2 || echo -) / $(nums "" "$rekor")"
	lcase BenchmarkLatency/loopback/keyless/50 "loopback, 50 keyless" 0.15 "" "$v3"
	lcase BenchmarkLatency/loopback/unsigned/50 "loopback, 50 unsigned" 0.10 0.05 "flux diff/push/tag"
	if [[ -s "$timeline" ]]; then
		printf '\n'
		cat "$timeline"
	fi
}
# Only the latency group asked: its table alone, not a column of the other groups' dashes.
if [[ "$groups" == latency ]]; then
	latency_table
	exit 0
fi

# row LABEL VALUE UNIT TARGET-OP TARGET: prints the value against "OP TARGET" (<=, <, =, or
# "" for information only) and whether it is met.
printf '\n%-52s %12s %14s  %s\n' measure value target met
row() {
	local label=$1 value=$2 unit=$3 op=$4 target=$5 met=""
	if [[ -z "$value" ]]; then
		printf '%-52s %12s %14s  %s\n' "$label" - "${op:+$op $target$unit}" ""
		return
	fi
	if [[ -n "$op" ]]; then
		if awk -v v="$value" -v t="$target" -v op="$op" 'BEGIN { exit !((op == "<=" && v <= t) || (op == "<" && v < t) || (op == "=" && v == t)) }'; then
			met=yes
		else
			met=NO
		fi
	fi
	printf '%-52s %12s %14s  %s\n' "$label" "$value$unit" "${op:+$op $target$unit}" "$met"
}
per50() { [[ -n "$1" ]] && calc "$1 / 50" 1 || true; }
ratio() { [[ -n "$1" && -n "$2" ]] && calc "$1 / $2" 1 || true; }
ratio2() { [[ -n "$1" && -n "$2" ]] && calc "$1 / $2" 3 || true; }

# Issue 12: keyless publish of 50 components, cold, as an Actions run against the loopback
# Sigstore stack and the filesystem registry: the defaults (both formats + provenance) against
# the legacy signature alone, run in alternating pairs. Issue 13: the extra cost of the defaults
# is at most once the legacy time.
pair=BenchmarkPublishKeyless50/both+provenance_vs_legacy
kb=$(metric $pair both-s) kl=$(metric $pair legacy-s)
d2k=$(secs BenchmarkD2Loop50/keyless) d2u=$(secs BenchmarkD2Loop50/unsigned)
row "keyless 50 cold, both + provenance" "$kb" s "<=" 2.5
row "  / D2 loop keyless (flux + cosign sign)" "$([[ -n "$kb" && -n "$d2k" ]] && calc "$kb / $d2k" 3 || true)" x "<=" 0.10
row "  registry requests per component" "$(metric $pair both-requests/component)" "" "" ""
row "keyless 50 cold, legacy only" "$kl" s "" ""
row "  / D2 loop keyless" "$([[ -n "$kl" && -n "$d2k" ]] && calc "$kl / $d2k" 3 || true)" x "" ""
row "  registry requests per component" "$(metric $pair legacy-requests/component)" "" "" ""
row "  extra cost of both + provenance / legacy" "$(metric $pair extra-x)" x "<=" 1
lo=$(metric $pair extra-min-x) hi=$(metric $pair extra-max-x)
row "    lowest and highest of the pairs" "$([[ -n "$lo" && -n "$hi" ]] && echo "$lo–$hi" || true)" x "" ""
kbs=$(secs "BenchmarkPublishKeyless50/both+provenance,_log_1s_away") kls=$(secs "BenchmarkPublishKeyless50/legacy,_log_1s_away")
row "keyless 50 cold, both + provenance, log 1 s away" "$kbs" s "" ""
row "keyless 50 cold, legacy only, log 1 s away" "$kls" s "" ""
row "  extra cost of both + provenance / legacy" "$([[ -n "$kbs" && -n "$kls" ]] && calc "($kbs - $kls) / $kls" 2 || true)" x "<=" 1
row "  the same without signing overlapping the registry" "$(secs "BenchmarkPublishKeyless50/both+provenance,_log_1s_away,_no_overlap")" s "" ""
row "D2 loop, 50 components, keyless" "$d2k" s "" ""
row "D2 loop, 50 components, unsigned" "$d2u" s "" ""
# The signing step alone (50 digests already pushed), for the breakdown.
row "sign 50, both + provenance" "$(secs BenchmarkSign50Formats/both+provenance)" s "" ""
row "sign 50, legacy only" "$(secs BenchmarkSign50Formats/legacy)" s "" ""
row "sign 50, legacy, tlog (BenchmarkSign50)" "$(secs BenchmarkSign50/tlog=true)" s "" ""
# Unsigned, 50 components, distribution with its in-memory driver (Disk: filesystem driver).
row "unsigned 50 cold" "$(secs BenchmarkPublish50/cold)" s "<=" 0.8
row "unsigned 50 cold, filesystem registry" "$(secs BenchmarkPublish50Disk/cold)" s "" ""
row "  / D2 loop unsigned (same registry kind)" "$(ratio2 "$(secs BenchmarkPublish50Disk/cold)" "$d2u")" x "<=" 0.10
row "unsigned 50 warm" "$(secs BenchmarkPublish50/warm)" s "<=" 0.3
row "  requests per component, cold (about 9 needed)" "$(per50 "$(metric BenchmarkPublish50/cold requests/run)")" "" "" ""
row "  requests per component, warm" "$(per50 "$(metric BenchmarkPublish50/warm requests/run)")" "" "<=" 2
row "  blob uploads, warm" "$(metric BenchmarkPublish50/warm blob-uploads/run)" "" "=" 0
# The registry side alone: the Store calls of today's publish flow, token handshake included.
row "registry Store calls: requests per component, cold" "$(metric BenchmarkRoundTrips requests/component-cold)" "" "" ""
row "registry Store calls: requests per component, warm" "$(metric BenchmarkRoundTrips requests/component-warm)" "" "<=" 2
row "registry Store calls: blob uploads, warm" "$(metric BenchmarkRoundTrips blob-uploads/component-warm)" "" "=" 0
# Scale: runs of the binary, unsigned, in-memory registry; time growth and peak RSS.
s50c=$(secs BenchmarkScale/50/cold) s500c=$(secs BenchmarkScale/500/cold)
s50w=$(secs BenchmarkScale/50/warm) s500w=$(secs BenchmarkScale/500/warm)
row "500 components cold (binary)" "$s500c" s "" ""
row "  time 500 / 50, cold" "$(ratio "$s500c" "$s50c")" x "<=" 10
row "  peak RSS, cold" "$(metric BenchmarkScale/500/cold peak-RSS-MB)" MB "<" 200
row "  requests per component, cold" "$(metric BenchmarkScale/500/cold requests/component)" "" "" ""
row "500 components warm (binary)" "$s500w" s "" ""
row "  time 500 / 50, warm" "$(ratio "$s500w" "$s50w")" x "<=" 10
row "  peak RSS, warm" "$(metric BenchmarkScale/500/warm peak-RSS-MB)" MB "<" 200
row "  requests per component, warm" "$(metric BenchmarkScale/500/warm requests/component)" "" "<=" 2
row "  blob uploads per component, warm" "$(metric BenchmarkScale/500/warm blob-uploads/component)" "" "=" 0
row "fleet artifact of 5,000 files, cold" "$(secs BenchmarkScale/fleet5000/cold)" s "" ""
row "  peak RSS" "$(metric BenchmarkScale/fleet5000/cold peak-RSS-MB)" MB "<" 200
# Earlier issues' targets.
row "detect, push event" "$(secs BenchmarkDetect/push)" s "<=" 1
row "detect, pull request" "$(secs BenchmarkDetect/pull_request)" s "<=" 1
row "validate 150 overlays" "$(secs BenchmarkValidate150Overlays)" s "<=" 1
row "build one artifact" "$(secs BenchmarkBuild)" s "" ""
# Issue 18: prune of 2,000 main builds (each with a signature, a referrer and a fallback index)
# on loopback, keeping 10.
row "prune of ${FLEETPUSH_BENCH_PRUNE_VERSIONS:-2000} versions" "$(secs BenchmarkPrune)" s "" ""
row "  registry requests per deleted version" "$(metric BenchmarkPrune requests/deleted)" "" "" ""
row "  tag listings per deleted version" "$(metric BenchmarkPrune tag-lists/deleted)" "" "" ""
if want latency; then latency_table; fi
