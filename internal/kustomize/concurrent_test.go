package kustomize

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// customOpenAPI is an artifact whose kustomization names its own OpenAPI
// schema: kustomize installs it process-wide, and its build resets kyaml's
// schema state afterwards.
var customOpenAPI = fstest.MapFS{
	"kustomization.yaml": file(kustHeader + "openapi:\n  path: schema.json\nresources:\n  - cm.yaml\n"),
	"schema.json":        file(`{"swagger":"2.0","info":{"title":"custom","version":"v1"},"paths":{},"definitions":{}}`),
	"cm.yaml":            file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n"),
}

// lookupArtifact holds many objects of a kind kyaml does not know, so its
// build asks kyaml for their scope over and over (IsNamespaceScoped, which
// reads the schema's maps without a lock).
func lookupArtifact(n int) fstest.MapFS {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w%d\nspec:\n  size: %d\n", i, i)
	}
	return fstest.MapFS{
		"kustomization.yaml": file(kustHeader + "namePrefix: x-\nresources:\n  - widgets.yaml\n"),
		"widgets.yaml":       file(b.String()),
	}
}

// patchArtifact is small and strategic-merge-patches a Deployment, which
// makes kyaml look up the Deployment schema (SchemaForResourceType) and so
// parse its built-in schema if it has not yet.
var patchArtifact = fstest.MapFS{
	"kustomization.yaml": file(kustHeader + "resources:\n  - deploy.yaml\npatches:\n  - path: patch.yaml\n"),
	"deploy.yaml":        file(deployment),
	"patch.yaml":         file("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n"),
}

// TestConcurrentValidateOneValidator validates several artifacts at once
// with one Validator, as the app does with one goroutine per component.
// kyaml parses its built-in OpenAPI schema lazily, into process-global
// maps, on the first lookup that needs it; under -race this test fails if
// builds sharing the Validator can reach that first use while others read
// the maps: at the start (kyaml as at process start) and after a build
// with a custom schema reset kyaml.
func TestConcurrentValidateOneValidator(t *testing.T) {
	// Not parallel: it puts kyaml back into its state at process start,
	// which no other build may see.
	openapiMu.Lock()
	openapi.ResetOpenAPI()
	openapiMu.Unlock()

	v, err := New(WithConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lookups := lookupArtifact(40)
	for round := range 8 {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		validate := func(name string, files fstest.MapFS) {
			defer wg.Done()
			got, err := v.Validate(ctx, files, Options{Prefix: name + "/"})
			switch {
			case err != nil:
				errs <- fmt.Errorf("round %d, %s: %w", round, name, err)
			case HasErrors(got):
				errs <- fmt.Errorf("round %d, %s: unexpected errors: %v", round, name, errorStrings(got))
			}
		}
		for i := range 6 {
			wg.Add(1)
			go validate(fmt.Sprintf("lookups-%d", i), lookups)
		}
		wg.Add(1)
		go validate("patch", patchArtifact)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Leaves kyaml reset for the next round.
		if _, err := v.Validate(ctx, customOpenAPI, Options{Prefix: "custom/"}); err != nil {
			t.Fatal(err)
		}
	}
}
