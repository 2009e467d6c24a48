// Command flux-pull is `flux pull artifact` without the rest of the flux CLI: the same calls
// into the same Flux library (github.com/fluxcd/pkg/oci, at the version flux v2.7.5 builds
// with) that flux2's cmd/flux/pull_artifact.go makes, for the end-to-end tests to pull what
// fleetpush publishes as a cluster's source-controller would. The whole CLI takes over ten
// minutes of two cores to build from a cold cache; this takes seconds.
//
//	flux-pull [--insecure-registry] oci://REGISTRY/REPOSITORY:TAG DIR
//
// It is test tooling only, its own module so that fleetpush's go.mod never names Flux's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/crane"
)

func main() {
	insecure := flag.Bool("insecure-registry", false, "allow a registry without TLS, as flux's flag of the same name")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: flux-pull [--insecure-registry] oci://REGISTRY/REPOSITORY:TAG DIR")
		os.Exit(2)
	}
	if err := pull(flag.Arg(0), flag.Arg(1), *insecure); err != nil {
		fmt.Fprintln(os.Stderr, "✗", err)
		os.Exit(1)
	}
}

// pull is pullArtifactCmdRun of flux2's cmd/flux/pull_artifact.go for the generic provider
// without credentials.
func pull(ociURL, output string, insecure bool) error {
	if fi, err := os.Stat(output); err != nil || !fi.IsDir() {
		return fmt.Errorf("invalid output path %q: %w", output, err)
	}
	url, err := oci.ParseArtifactURL(ociURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // flux's --timeout default
	defer cancel()
	opts := oci.DefaultOptions()
	if insecure {
		opts = append(opts, crane.Insecure)
	}
	meta, err := oci.NewClient(opts).Pull(ctx, url, output)
	if err != nil {
		return err
	}
	fmt.Printf("source %s\nrevision %s\ndigest %s\n", meta.Source, meta.Revision, meta.Digest)
	return nil
}
