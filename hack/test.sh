#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the test servers (cached), checks formatting, that
# go.mod is tidy and the generated files are current, vet, runs the unit and end-to-end tests,
# and builds the shipped binary with the Dockerfile's flags.
set -euo pipefail
cd "$(dirname "$0")/.."

export FLEETPUSH_TOOLS=${FLEETPUSH_TOOLS:-$HOME/.cache/fleetpush/tools}
bash hack/tools.sh

# Test with the shipped binary's build settings (the Dockerfile's CGO_ENABLED=0 -trimpath), so
# vet, test and the final build share one build cache instead of compiling everything twice,
# and what the tests ran is what ships.
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"

echo "== gofmt" >&2
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './dist/*'))
if [[ -n "$unformatted" ]]; then
	echo "gofmt would change these files (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi

# go.mod names what the code imports, no more and no less: every direct dependency marked as
# such, nothing unused. (go mod tidy -diff changes nothing; it exits non-zero and prints the diff.)
echo "== go mod tidy" >&2
if ! go mod tidy -diff; then
	echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result" >&2
	exit 1
fi

# action.yml and the README's inputs and outputs tables are generated from internal/config's
# option and output tables: a hand edit, or a table change without regenerating, fails here.
echo "== generated files" >&2
go generate ./internal/packaging
if ! git diff --exit-code -- action.yml README.md; then
	echo "action.yml or README.md differ from what go generate ./internal/packaging writes (diff above):" >&2
	echo "edit internal/config's option and output tables (or internal/packaging/action.yml.tmpl), run the generator and commit the result" >&2
	exit 1
fi

echo "== go vet" >&2
go vet ./...

echo "== go test" >&2
go test -count=1 -timeout 30m ./...

# The race detector over the packages that share state between goroutines and stay quick under
# it. internal/app (every step at once, and the Sigstore stack) takes minutes with -race on two
# cores: run `CGO_ENABLED=1 go test -race ./...` on demand for the whole tree.
echo "== go test -race" >&2
CGO_ENABLED=1 go test -race -count=1 -timeout 15m ./internal/report/... ./internal/registry/... ./internal/gitdiff/... \
	./internal/tags/... ./internal/tagger/... ./internal/retry/... ./internal/kustomize/... ./internal/artifact/... ./internal/config/... ./internal/component/... \
	./internal/checkout/... ./internal/inputfile/... ./internal/preview/... ./internal/retention/...

# Every Fuzz* target in the repository, found by grep, runs briefly on top of its seed corpus and
# any regression inputs under testdata/fuzz (which go test above already replayed).
# FLEETPUSH_FUZZTIME runs them longer on demand, e.g. FLEETPUSH_FUZZTIME=5m bash hack/test.sh.
echo "== fuzz (${FLEETPUSH_FUZZTIME:-5s} per target)" >&2
grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]+' . | sed 's|^\./||; s|/[^/]*_test\.go:func | |' | sort -u |
	while read -r dir target; do
		echo "-- ./$dir $target" >&2
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FLEETPUSH_FUZZTIME:-5s}" "./$dir" >&2
	done

echo "== build (Dockerfile flags)" >&2
bash hack/build.sh
