package kustomize

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestValidateMore checks the other policies, notices included.
func TestValidateMore(t *testing.T) {
	t.Parallel()
	v, err := New(WithMaxFileSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	widget := "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: ${SIZE}\n  colour: red\n"
	tests := []struct {
		name  string
		files fstest.MapFS
		opts  Options
		want  []string
	}{
		{
			name: "substitution disabled keeps the type check",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - deploy.yaml\n"),
				"deploy.yaml": file(strings.Replace(strings.Replace(deployment, "replicas: 2", "replicas: ${REPLICAS}", 1),
					"  name: web\n", "  name: web\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n", 1)),
			},
			want: []string{`error deploy.yaml:8: Deployment/web: spec.replicas: wrong type: got string "${REPLICAS}", want integer`},
		},
		{
			name: "invalid quantity and duration",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - pvc.yaml\n  - repo.yaml\n"),
				"pvc.yaml":           file("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: ten gigs\n"),
				"repo.yaml":          file("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: repo\nspec:\n  interval: 5 minutes\n  url: https://example.com/repo.git\n"),
			},
			want: []string{
				`error pvc.yaml:9: PersistentVolumeClaim/data: spec.resources.requests.storage: invalid value string "ten gigs": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
				`error repo.yaml:6: GitRepository/repo: spec.interval: invalid value string "5 minutes": time: unknown unit " minutes" in duration "5 minutes"`,
			},
		},
		{
			name: "exec function refused",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - cm.yaml\ntransformers:\n  - fn.yaml\n"),
				"cm.yaml":            file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"),
				"fn.yaml":            file("apiVersion: example.com/v1\nkind: Touch\nmetadata:\n  name: touch\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /usr/bin/touch\n"),
			},
			want: []string{`error kustomization.yaml:1: kustomize build failed: external plugins disabled; unable to load external plugin 'Touch'`},
		},
		{
			name: "helm charts refused",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "helmCharts:\n  - name: podinfo\n    repo: https://stefanprodan.github.io/podinfo\n"),
			},
			want: []string{`error kustomization.yaml:4: helmCharts: kustomize would run the helm binary, which is not allowed here (nor in Flux): deploy the chart with a HelmRelease`},
		},
		{
			name: "file outside the kustomization folder",
			files: fstest.MapFS{
				"base/kustomization.yaml":    file(kustHeader + "resources:\n  - ../common/cm.yaml\n"),
				"common/cm.yaml":             file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"),
				"overlay/kustomization.yaml": file(kustHeader + "resources:\n  - ../base\n"),
			},
			want: []string{`error base/kustomization.yaml:4: resources: "../common/cm.yaml" is outside the folder of this kustomization, which kustomize load restrictions forbid: move the file, or make its folder a base with its own kustomization`},
		},
		{
			name: "unknown kind in a known apiVersion and custom resources",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - objs.yaml\n"),
				"objs.yaml":          file("apiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: web\n---\napiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n---\napiVersion: source.toolkit.fluxcd.io/v1alpha9\nkind: GitRepository\nmetadata:\n  name: old\n"),
			},
			want: []string{
				`error objs.yaml:1: Deploymnet/web: unknown kind "Deploymnet" in apiVersion apps/v1`,
				`notice objs.yaml:6: Gadget example.com/v1 not checked: no schema for this kind`,
				`notice objs.yaml:11: GitRepository source.toolkit.fluxcd.io/v1alpha9 not checked: fleetpush knows other versions of source.toolkit.fluxcd.io`,
			},
		},
		{
			name:  "schema location covers a custom resource",
			opts:  Options{SchemaLocations: []string{"testdata/schemas"}},
			files: fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources:\n  - widget.yaml\n"), "widget.yaml": file(widget)},
			want:  []string{`error widget.yaml:7: Widget/w: spec.colour: unknown field`},
		},
		{
			name:  "YAML bomb",
			files: fstest.MapFS{"bomb.yaml": file(bomb)},
			want:  []string{`error bomb.yaml:2: refused: YAML bomb: its aliases expand to more than 100000 nodes beyond the text (the limit); write the repeated parts out instead of aliasing them`},
		},
		{
			name:  "file too large",
			files: fstest.MapFS{"big.yaml": file("a: " + strings.Repeat("x", 5000) + "\n")},
			want:  []string{`error big.yaml: file is 5004 bytes, more than the 4096 bytes allowed: split it, or raise the max-file-size input`},
		},
		{
			name: "unused component and two kustomization files",
			files: fstest.MapFS{
				"ha/kustomization.yaml":  file("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"),
				"app/kustomization.yaml": file(kustHeader),
				"app/kustomization.yml":  file(kustHeader),
			},
			want: []string{
				`error app/kustomization.yml: more than one kustomization file in folder "app": kustomize refuses to choose; keep one`,
				`notice ha/kustomization.yaml:1: component is used by no kustomization in the artifact, so it was not built`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			findings, err := v.Validate(context.Background(), tc.files, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				got = append(got, f.Severity.String()+" "+f.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFindingString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    Finding
		want string
	}{
		{Finding{File: "a/b.yaml", Line: 3, Message: "m"}, "a/b.yaml:3: m"},
		{Finding{File: "a/b.yaml", Message: "m"}, "a/b.yaml: m"},
	} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	if HasErrors([]Finding{{Severity: Notice}}) || !HasErrors([]Finding{{Severity: Notice}, {Severity: Error}}) {
		t.Error("HasErrors is wrong")
	}
}

func TestRemoteDetection(t *testing.T) {
	t.Parallel()
	for ref, want := range map[string]bool{
		"../base": false, "deploy.yaml": false, "github.com/acme/x": true, "git::https://x/y": true,
		"ssh://git@host/x": true, "git@gitlab.com:a/b.git": true, "file:///etc/passwd": true,
		"https://example.com/a.yaml": true,
	} {
		if got := isRemote(ref); got != want {
			t.Errorf("isRemote(%q) = %t, want %t", ref, got, want)
		}
	}
}

func TestCancelled(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Validate(ctx, fstest.MapFS{"kustomization.yaml": file(kustHeader)}, Options{}); err == nil {
		t.Error("Validate with a cancelled context returned no error")
	}
}

func TestSchemaLocations(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"kustomization.yaml": file(kustHeader + "resources:\n  - widget.yaml\n"),
		"widget.yaml":        file("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: ${SIZE}\n  color: 3\n"),
	}
	got, err := v.Validate(context.Background(), files, Options{SchemaLocations: []string{
		"testdata/schemas/{{ .ResourceKind }}.json", // a folder without this kind
		"testdata/schemas/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{{File: "widget.yaml", Line: 7, Severity: Error, Message: "Widget/w: spec.color: expected string, but got number"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	for _, loc := range []string{"https://example.com/schemas", "schemas/{{ .Version }}.json",
		"testdata/missing", "testdata/missing/{{ .ResourceKind }}.json", "testdata/golden/fleet.golden"} {
		if _, err := v.Validate(context.Background(), files, Options{SchemaLocations: []string{loc}}); err == nil {
			t.Errorf("schema location %q accepted", loc)
		}
	}
}
