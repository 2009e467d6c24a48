package kustomize

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const plainSecret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n"

// TestSecretPolicyOnDecodedObjects: a plain Secret is refused however the
// text hides it, because the policy reads what the decoder yields.
func TestSecretPolicyOnDecodedObjects(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	listed := func(name, body string) fstest.MapFS {
		return fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [deploy.yaml]\n"), "deploy.yaml": file(deployment), name: file(body)}
	}
	tests := []struct {
		name  string
		files fstest.MapFS
		want  []string // errors, as Finding.String()
	}{
		{
			name:  "kind and data through a merge key",
			files: listed("extra/s.yaml", "base: &b\n  apiVersion: v1\n  kind: Secret\n  stringData:\n    password: hunter2\n---\n<<: *b\nmetadata:\n  name: db\n"),
			want:  []string{"c/extra/s.yaml:4: Secret/db: plain-text stringData"},
		},
		{
			name:  "data through an alias",
			files: listed("s.yml", "x: &d {password: aHVudGVyMg==}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: *d\n"),
			want:  []string{"c/s.yml:6: Secret/db: plain-text data"},
		},
		{
			name:  "kind through an alias",
			files: listed("notes.txt", "k: &k Secret\n---\napiVersion: v1\nkind: *k\nmetadata: {name: db}\nstringData: {a: b}\n"),
			want:  []string{"c/notes.txt:6: Secret/db: plain-text stringData"},
		},
		{
			name:  "values merged into data",
			files: listed("s.yaml", "v: &v {password: hunter2}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  <<: *v\n"),
			want:  []string{"c/s.yaml:6: Secret/db: plain-text data"},
		},
		{
			name:  "inside a List",
			files: listed("list.yaml", "apiVersion: v1\nkind: List\nitems:\n  - "+strings.ReplaceAll(strings.TrimSuffix(plainSecret, "\n"), "\n", "\n    ")+"\n"),
			want:  []string{"c/list.yaml:8: Secret/db: plain-text stringData"},
		},
		{
			name:  "inside a List inside a List",
			files: listed("list.json", `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"SecretList","items":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{"a":"Yg=="}}]}]}`),
			want:  []string{"c/list.json:1: Secret/db: plain-text data"},
		},
		{
			name:  "a repeated data key",
			files: listed("dup.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {}\ndata: {a: Yg==}\n"),
			want:  []string{"c/dup.yaml:5: Secret/db: plain-text data"},
		},
		{
			name:  "in a file of no YAML name that no kustomization lists",
			files: listed("backup/secret", plainSecret),
			want:  []string{"c/backup/secret:5: Secret/db: plain-text stringData"},
		},
		{
			name:  "listed and behind an anchor: reported once",
			files: fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [s.yaml]\n"), "s.yaml": file("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: &s {a: b}\n")},
			want:  []string{"c/s.yaml:4: Secret/db: plain-text stringData"},
		},
		{
			name:  "after a syntax error, in a file of no YAML name",
			files: listed("notes.txt", "a: [\n---\n"+plainSecret),
			want:  []string{"c/notes.txt:7: Secret/db: plain-text stringData"},
		},
		{
			name:  "after a syntax error, in a YAML file",
			files: listed("extra/s.yaml", "a: {\n---\n"+plainSecret+"---\nb: ]\n---\n"+strings.Replace(plainSecret, "db", "db2", 1)),
			want:  []string{"c/extra/s.yaml:2: malformed YAML: did not find expected node content", "c/extra/s.yaml:7: Secret/db: plain-text stringData", "c/extra/s.yaml:16: Secret/db2: plain-text stringData"},
		},
		{
			name:  "SOPS-encrypted behind a merge key passes",
			files: listed("s.yaml", "m: &m {sops: {mac: x}}\n---\n<<: *m\napiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {a: \"ENC[x]\"}\n"),
		},
		{
			name:  "a sops key beside plain values",
			files: listed("s.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\nsops: {version: 3.9.0}\n"),
			want:  []string{"c/s.yaml:4: Secret/db: plain-text stringData"},
		},
		{
			name:  "one value SOPS left plain",
			files: listed("s.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  a: ENC[AES256_GCM,data:x,type:str]\n  b_unencrypted: aHVudGVyMg==\nsops: {version: 3.9.0}\n"),
			want:  []string{"c/s.yaml:4: Secret/db: plain-text data"},
		},
		{
			name:  "a sops key beside plain values, listed and built",
			files: fstest.MapFS{"kustomization.yaml": file(kustHeader + "namePrefix: p-\nresources: [s.yaml]\n"), "s.yaml": file("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\nsops: {version: 3.9.0}\n")},
			want:  []string{"c/s.yaml:4: Secret/db: plain-text stringData"},
		},
		{
			name:  "only substitutions through an alias pass",
			files: listed("s.yaml", "v: &v ${PASSWORD}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {a: *v}\n"),
		},
		{
			name:  "an empty List passes",
			files: listed("list.yaml", "apiVersion: v1\nkind: SecretList\nitems: []\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Validate(context.Background(), tt.files, Options{Prefix: "c/"})
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			for _, f := range got {
				if f.Severity == Error {
					msg := f.String()
					if i := strings.Index(msg, " in a Secret would be"); i > 0 {
						msg = msg[:i]
					}
					errs = append(errs, msg)
				}
			}
			if diff := cmp.Diff(tt.want, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRendersToNothing: an artifact is empty when what Flux would apply
// from it is empty, whatever files it carries.
func TestRendersToNothing(t *testing.T) {
	t.Parallel()
	const empty = "the artifact holds no Kubernetes object"
	const rootEmpty = "this kustomization renders no Kubernetes object"
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string // "" for no error, else a part of the one error
	}{
		{"JSON files only, no kustomization (Flux's generated one lists .yaml and .yml)",
			fstest.MapFS{"cm.json": file(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`), "sub/cm2.json": file(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"}}`)}, empty},
		{"upper-case extension is not picked up either",
			fstest.MapFS{"cm.YAML": file(cm)}, empty},
		{"a .yml file is",
			fstest.MapFS{"cm.yml": file(cm)}, ""},
		{"a file in a sub-folder without a kustomization is",
			fstest.MapFS{"apps/cm.yaml": file(cm)}, ""},
		{"an empty List",
			fstest.MapFS{"list.yaml": file("apiVersion: v1\nkind: List\nitems: []\n")}, empty},
		{"a List with null items",
			fstest.MapFS{"list.yaml": file("apiVersion: v1\nkind: ConfigMapList\nitems:\n")}, empty},
		{"only comments and separators",
			fstest.MapFS{"a.yaml": file("# nothing\n---\n---\n# still nothing\n"), "b.yml": file("---\n")}, empty},
		{"only local-config objects",
			fstest.MapFS{"a.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n")}, empty},
		{"a kustomization that lists nothing, an unlisted file beside it",
			fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: []\n"), "cm.yaml": file(cm)}, empty},
		{"a kustomization listing only an empty List",
			fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [list.yaml]\n"), "list.yaml": file("apiVersion: v1\nkind: List\nitems: []\n")}, empty},
		{"an overlay that lists nothing beside one that renders",
			fstest.MapFS{"base/kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\n"), "base/cm.yaml": file(cm),
				"staging/kustomization.yaml": file(kustHeader + "resources: [../base]\n"), "production/kustomization.yaml": file(kustHeader + "namespace: prod\n")}, "c/production/kustomization.yaml:1: " + rootEmpty},
		{"a base that renders nothing but is used is fine",
			fstest.MapFS{"empty/kustomization.yaml": file(kustHeader + "resources: []\n"), "app/kustomization.yaml": file(kustHeader + "resources: [../empty, cm.yaml]\n"), "app/cm.yaml": file(cm)}, ""},
		{"a List with an object renders",
			fstest.MapFS{"list.yaml": file("apiVersion: v1\nkind: List\nitems:\n  - " + strings.ReplaceAll(strings.TrimSuffix(cm, "\n"), "\n", "\n    ") + "\n")}, ""},
	}
	for _, allow := range []bool{false, true} {
		v, err := New(WithAllowEmpty(allow))
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				got, err := v.Validate(context.Background(), tt.files, Options{Prefix: "c/"})
				if err != nil {
					t.Fatal(err)
				}
				var errs, notices []string
				for _, f := range got {
					switch {
					case f.Severity == Error:
						errs = append(errs, f.String())
					case strings.Contains(f.Message, "no Kubernetes object"):
						notices = append(notices, f.String())
					}
				}
				switch {
				case allow && tt.want != "" && (len(errs) > 0 || len(notices) != 1):
					t.Errorf("allow-empty: errors %q, notices %q; want one notice and no error", errs, notices)
				case allow && tt.want == "" && len(errs) > 0:
					t.Errorf("allow-empty: errors %q, want none", errs)
				case !allow && tt.want == "" && len(errs) > 0:
					t.Errorf("errors %q, want none", errs)
				case !allow && tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0], tt.want)):
					t.Errorf("errors %q, want one holding %q", errs, tt.want)
				}
			})
		}
	}
}

// TestListingCycle: a cycle of kustomizations that only list is left to
// kustomize, which reports it, rather than followed for ever.
func TestListingCycle(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"kustomization.yaml":      file(kustHeader + "resources: [base]\n"),
		"base/kustomization.yaml": file(kustHeader + "resources: [..]\n"),
	}
	got, err := v.Validate(context.Background(), files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !HasErrors(got) {
		t.Fatalf("a cycle of kustomizations passed: %v", got)
	}
}
