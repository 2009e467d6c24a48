#!/usr/bin/env bash
# Installs the programs the test suite runs against, at exact versions, into a cache folder that
# later runs reuse: a cold cache costs a few minutes of builds, a warm one nothing.
#
#   FLEETPUSH_TOOLS  cache folder (default: $HOME/.cache/fleetpush/tools); binaries go to $FLEETPUSH_TOOLS/bin
#   hack/tools.sh flux   also the whole flux CLI, for the benchmarks' D2 loop (hack/bench.sh asks
#                        for it): over ten minutes of go build on a cold cache, nothing on a warm one
#
# Go tools come through the Go module proxy (`go install pkg@version`), system packages through
# apt-get. A tool is rebuilt only when its version stamp changes.
set -euo pipefail

FLEETPUSH_TOOLS=${FLEETPUSH_TOOLS:-$HOME/.cache/fleetpush/tools}
export FLEETPUSH_TOOLS
mkdir -p "$FLEETPUSH_TOOLS/bin" "$FLEETPUSH_TOOLS/stamps"

# install_go_tool NAME PKG@VERSION: builds PKG into $FLEETPUSH_TOOLS/bin/NAME unless that exact
# version is already there.
install_go_tool() {
	local name=$1 spec=$2
	local stamp="$FLEETPUSH_TOOLS/stamps/$name"
	if [[ -x "$FLEETPUSH_TOOLS/bin/$name" && "$(cat "$stamp" 2>/dev/null)" == "$spec" ]]; then
		return 0
	fi
	echo "tools: installing $name ($spec)" >&2
	GOBIN="$FLEETPUSH_TOOLS/bin" GOFLAGS=-buildvcs=false go install "$spec"
	echo "$spec" >"$stamp"
}

# install_go_tool_as NAME PKG@VERSION: like install_go_tool, for a program whose binary name
# clashes with another installed version (cosign v2 and v3 are both "cosign"): it is built into a
# temporary folder and moved into place under NAME.
install_go_tool_as() {
	local name=$1 spec=$2
	local stamp="$FLEETPUSH_TOOLS/stamps/$name"
	if [[ -x "$FLEETPUSH_TOOLS/bin/$name" && "$(cat "$stamp" 2>/dev/null)" == "$spec" ]]; then
		return 0
	fi
	echo "tools: installing $name ($spec)" >&2
	local tmp
	tmp=$(mktemp -d)
	GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "$spec"
	local built=("$tmp"/*)
	mv "${built[0]}" "$FLEETPUSH_TOOLS/bin/$name"
	rm -rf "$tmp"
	echo "$spec" >"$stamp"
}

# install_apt PACKAGE...: installs Debian packages that are not installed yet.
install_apt() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	echo "tools: apt-get install ${missing[*]}" >&2
	local sudo=
	[[ $(id -u) -eq 0 ]] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The CNCF distribution registry: the end-to-end tests push to it on loopback.
install_go_tool registry github.com/distribution/distribution/v3/cmd/registry@v3.1.2

# actionlint checks the project's workflows and the example workflows, the examples also against
# this repository's action.yml; with shellcheck present it checks their run: scripts as well.
install_apt shellcheck
install_go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

# Sigstore on loopback for the signing tests: Fulcio (certificates for the stand-in GitHub OIDC
# issuer), Rekor v1 over Trillian over MariaDB (the transparency log Flux verifies against).
# rekor-server v1.5.5 needs a newer Go than the module's; Trillian's MySQL schema is copied next
# to the binaries so the tests do not depend on a module cache.
install_apt mariadb-server-core mariadb-client-core
install_go_tool fulcio github.com/sigstore/fulcio@v1.8.8
install_go_tool rekor-server github.com/sigstore/rekor/cmd/rekor-server@v1.5.4
install_go_tool trillian_log_server github.com/google/trillian/cmd/trillian_log_server@v1.7.3
install_go_tool trillian_log_signer github.com/google/trillian/cmd/trillian_log_signer@v1.7.3
if [[ ! -f "$FLEETPUSH_TOOLS/share/trillian/storage.sql" ]]; then
	mkdir -p "$FLEETPUSH_TOOLS/share/trillian"
	trillian_dir=$(cd / && GOFLAGS=-mod=mod go mod download -json github.com/google/trillian@v1.7.3 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	cp "$trillian_dir/storage/mysql/schema/storage.sql" "$FLEETPUSH_TOOLS/share/trillian/storage.sql"
fi

# The cosign CLIs, test-only: they judge what fleetpush signs. v2.6.5 reads legacy .sig signatures
# and, with --new-bundle-format, bundles; v3.1.3 is what cosign-installer v4 installs and signs
# bundles by default. Both are "cosign", so v3 is installed as cosign3.
install_go_tool cosign github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
install_go_tool_as cosign3 github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3

# flux-pull: `flux pull artifact` alone (hack/flux-pull: the same calls into the same Flux library,
# github.com/fluxcd/pkg/oci, at the version flux v2.7.5 builds with). The end-to-end tests pull
# what prune keeps with it, as a cluster's source-controller would. Built from its own module,
# pinned by its go.sum; the stamp is the hash of its sources.
install_flux_pull() {
	local src=hack/flux-pull
	local stamp="$FLEETPUSH_TOOLS/stamps/flux-pull" sum
	sum=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -d' ' -f1)
	if [[ -x "$FLEETPUSH_TOOLS/bin/flux-pull" && "$(cat "$stamp" 2>/dev/null)" == "$sum" ]]; then
		return 0
	fi
	echo "tools: building flux-pull ($src)" >&2
	(cd "$src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -o "$FLEETPUSH_TOOLS/bin/flux-pull" .)
	echo "$sum" >"$stamp"
}
install_flux_pull

# The flux CLI, for the benchmarks: BenchmarkD2Loop50 and BenchmarkLatency run the D2 reference
# architecture's publish loop with it, to measure fleetpush against what it replaces. flux2's go.mod holds replace
# directives, which `go install pkg@version` refuses, so its module source (through the module
# proxy, at an exact version) is built in place. Its `install` command embeds manifests that its
# Makefile downloads from GitHub; the artifact commands used here do not use them, so a
# placeholder stands in.
install_flux() {
	local version=v2.7.5
	local stamp="$FLEETPUSH_TOOLS/stamps/flux"
	if [[ -x "$FLEETPUSH_TOOLS/bin/flux" && "$(cat "$stamp" 2>/dev/null)" == "$version" ]]; then
		return 0
	fi
	echo "tools: building flux $version from its module source (several minutes)" >&2
	local dir tmp
	dir=$(cd / && GOFLAGS=-mod=mod go mod download -json "github.com/fluxcd/flux2/v2@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	tmp=$(mktemp -d)
	cp -r "$dir/." "$tmp/"
	chmod -R u+w "$tmp"
	mkdir -p "$tmp/cmd/flux/manifests"
	printf '# placeholder: the artifact commands do not use the install manifests\n' >"$tmp/cmd/flux/manifests/placeholder.yaml"
	(cd "$tmp" && GOFLAGS=-buildvcs=false go build -o "$FLEETPUSH_TOOLS/bin/flux" ./cmd/flux)
	rm -rf "$tmp"
	echo "$version" >"$stamp"
}
for extra in "$@"; do
	case $extra in
	flux) install_flux ;;
	*)
		echo "tools: unknown extra tool $extra (known: flux)" >&2
		exit 2
		;;
	esac
done
