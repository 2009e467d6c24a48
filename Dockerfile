# syntax=docker/dockerfile:1

# The image GitHub runs for `uses: fleetpush/fleetpush@v1`: the static binary, git (change
# detection) and CA certificates, nothing else.
#
# Base images are pinned by exact version here. The release workflow resolves each tag to its
# digest and rewrites these lines as `image:tag@sha256:<digest>` in the release commit, so every
# released image records exactly what it was built from (.github/workflows/release.yml).
# GitHub's rules for docker actions: run as root (no USER) and in the workspace the runner mounts
# and selects (no WORKDIR).

FROM golang:1.26.8-bookworm AS builder
# Modules first: a source-only change reuses the download layer.
COPY go.mod go.sum /src/
RUN cd /src && go mod download
COPY . /src
# hack/build.sh runs this same command so CI can check the binary size without a Docker engine;
# a test keeps the two in step.
RUN cd /src && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /fleetpush .

# The 3.x minor line gets security rebuilds; each release pins the digest it was built from.
FROM alpine:3.23
LABEL org.opencontainers.image.source="https://github.com/fleetpush/fleetpush" \
      org.opencontainers.image.description="Publish Flux kustomize components as signed OCI artifacts"
# The workspace is mounted owned by the runner's uid, not root: git refuses such a repository
# unless it is marked safe. The binary also passes safe.directory on each git command, for CLI use.
RUN apk add --no-cache git ca-certificates \
 && git config --system --add safe.directory '*'
COPY --from=builder /fleetpush /fleetpush
ENTRYPOINT ["/fleetpush"]
