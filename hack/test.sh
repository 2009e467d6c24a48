#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the test servers (cached), checks formatting, that
# go.mod is tidy and the generated files are current, vet, runs the unit and end-to-end tests,
# and builds the shipped binary with the Dockerfile's flags.
set -euo pipefail
cd "$(dirname "$0")/.."

export FLEETPUSH_TOOLS=${FLEETPUSH_TOOLS:-$HOME/.cache/fleetpush/tools}

# stage NAME: starts a stage of the run and notes how long the one before took; the last line
# of every run, failed or not, sums them up, so a slow stage shows where the time of a CI run went.
stage_name="" stage_start=$SECONDS stage_times=""
stage() {
	if [[ -n $stage_name ]]; then
		stage_times+="${stage_name}: $((SECONDS - stage_start)) s; "
	fi
	stage_name=$1 stage_start=$SECONDS
	if [[ -n $1 ]]; then
		echo "== $1" >&2
	fi
}
stage_summary() {
	stage ""
	echo "== times: ${stage_times%; } (total $SECONDS s)" >&2
}
trap stage_summary EXIT

stage "tools"
bash hack/tools.sh

# Test with the shipped binary's build settings (the Dockerfile's CGO_ENABLED=0 -trimpath), so
# vet, test and the final build share one build cache instead of compiling everything twice,
# and what the tests ran is what ships.
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"

# A merge resolved by hand can leave its conflict markers behind in any kind of file (a script
# among them, where nothing else would notice until it runs).
stage "conflict markers"
if git rev-parse --git-dir >/dev/null 2>&1 && git grep -n -E '^(<<<<<<<|>>>>>>>) ' -- .; then
	echo "conflict markers above: finish the merge" >&2
	exit 1
fi

stage "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './dist/*'))
if [[ -n "$unformatted" ]]; then
	echo "gofmt would change these files (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi

# go.mod names what the code imports, no more and no less: every direct dependency marked as
# such, nothing unused. (go mod tidy -diff changes nothing; it exits non-zero and prints the diff.)
stage "go mod tidy"
if ! go mod tidy -diff; then
	echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result" >&2
	exit 1
fi

# action.yml and the README's inputs and outputs tables are generated from internal/config's
# option and output tables: a hand edit, or a table change without regenerating, fails here.
stage "generated files"
go generate ./internal/packaging
if ! git diff --exit-code -- action.yml README.md; then
	echo "action.yml or README.md differ from what go generate ./internal/packaging writes (diff above):" >&2
	echo "edit internal/config's option and output tables (or internal/packaging/action.yml.tmpl), run the generator and commit the result" >&2
	exit 1
fi

stage "go vet"
go vet ./...

stage "go test"
go test -count=1 -timeout 30m ./...

# The race detector over the packages that share state between goroutines and stay quick under
# it. internal/app whole (every step at once, and the Sigstore stack) takes minutes with -race on
# two cores: its concurrency tests run below; `CGO_ENABLED=1 go test -race ./...` runs the whole
# tree on demand.
stage "go test -race"
# Skipped here, run above: two tests of internal/report that format thousands of entries at every
# size on one goroutine, nearly a minute of the stage under the race detector for nothing it
# checks.
CGO_ENABLED=1 go test -race -count=1 -timeout 15m -skip '^(TestResultJSONBudget|TestPruneMarkdownBudget)$' ./internal/report/... ./internal/registry/... ./internal/gitdiff/... \
	./internal/tags/... ./internal/tagger/... ./internal/retry/... ./internal/kustomize/... ./internal/artifact/... ./internal/config/... ./internal/component/... \
	./internal/checkout/... ./internal/inputfile/... ./internal/preview/... ./internal/retention/... \
	./internal/sign/...
# From internal/app, the end-to-end tests where signing overlaps the push, verification starts
# beside the first reads, and prune runs beside publishes: they caught a shared options slice
# that concurrent signing calls appended into.
CGO_ENABLED=1 go test -race -count=1 -timeout 15m \
	-run 'TestSigningOverlapsThePush|TestKeylessRerunOfAnotherDigest|TestKeylessPublishSignVerify|TestKillBeforeTheTags|TestRaceLatest|TestPruneBesidePublishE2E' ./internal/app/

# Every Fuzz* target in the repository, found by grep, runs briefly on top of its seed corpus and
# any regression inputs under testdata/fuzz (which go test above already replayed).
# FLEETPUSH_FUZZTIME runs them longer on demand, e.g. FLEETPUSH_FUZZTIME=5m bash hack/test.sh.
# fuzz_target DIR TARGET fuzzes one target. Go 1.26's fuzzing coordinator can report a bare
# "context deadline exceeded" when -fuzztime ends while a worker is mid-call on a loaded machine
# (golang/go#75804, fixed in Go 1.27): nothing was found and no failing input was written. Such
# a run, and only such a run, is tried once more; any other failure fails at once.
fuzz_target() {
	local dir=$1 target=$2 log try
	log=$(mktemp)
	for try in 1 2; do
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FLEETPUSH_FUZZTIME:-5s}" "./$dir" >"$log" 2>&1; then
			cat "$log" >&2
			rm -f "$log"
			return 0
		fi
		cat "$log" >&2
		if ((try == 1)) && grep -q 'context deadline exceeded' "$log" && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"; then
			echo "-- $target: the fuzzing engine's deadline race (golang/go#75804), no failing input: once more" >&2
			continue
		fi
		rm -f "$log"
		return 1
	done
}

stage "fuzz (${FLEETPUSH_FUZZTIME:-5s} per target)"
grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]+' . | sed 's|^\./||; s|/[^/]*_test\.go:func | |' | sort -u |
	while read -r dir target; do
		echo "-- ./$dir $target" >&2
		fuzz_target "$dir" "$target"
	done

stage "build (Dockerfile flags)"
bash hack/build.sh
