package kustomize

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"testing"
	"testing/fstest"

	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// customOpenAPI is an artifact whose kustomization names its own OpenAPI
// schema: kustomize installs it process-wide, and its build resets kyaml's
// schema state afterwards, so the builds after it find kyaml uninitialised
// again.
var customOpenAPI = fstest.MapFS{
	"kustomization.yaml": file(kustHeader + "openapi:\n  path: schema.json\nresources:\n  - cm.yaml\n"),
	"schema.json":        file(`{"swagger":"2.0","info":{"title":"custom","version":"v1"},"paths":{},"definitions":{}}`),
	"cm.yaml":            file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n"),
}

// TestConcurrentValidateOneValidator validates several artifacts at once
// with one Validator, as the app does with one goroutine per component.
// kyaml parses its built-in OpenAPI schema lazily into process-global
// maps on first use; under -race this test fails if two builds can reach
// that first use at the same time.
func TestConcurrentValidateOneValidator(t *testing.T) {
	// Not parallel: it puts kyaml back into its state at process start,
	// which no other build may see half-done.
	resetKyaml := func() {
		openapiMu.Lock()
		defer openapiMu.Unlock()
		openapi.ResetOpenAPI()
	}
	artifacts := map[string]fs.FS{}
	for prefix, dir := range exampleArtifacts(t) {
		if prefix != "fleet/" {
			artifacts[prefix] = os.DirFS(dir)
		}
	}
	// The race needs one build to look a kind up before another starts
	// kyaml's lazy parse: each round starts from scratch to give it chances.
	for round := range 5 {
		resetKyaml()
		v, err := New(WithConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(artifacts)+1)
		validate := func(prefix string, files fs.FS, clean bool) {
			defer wg.Done()
			got, err := v.Validate(context.Background(), files, Options{Prefix: prefix})
			switch {
			case err != nil:
				errs <- fmt.Errorf("round %d, %s: %w", round, prefix, err)
			case clean && HasErrors(got):
				errs <- fmt.Errorf("round %d, %s: unexpected errors: %v", round, prefix, errorStrings(got))
			}
		}
		for prefix, files := range artifacts {
			wg.Add(1)
			go validate(prefix, files, true)
		}
		// The custom schema's build runs alone and resets kyaml behind it;
		// the builds that follow it must not initialise kyaml concurrently.
		wg.Add(1)
		go validate("custom-openapi/", customOpenAPI, false)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}
