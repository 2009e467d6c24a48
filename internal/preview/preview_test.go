package preview

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

var testKey = []byte("test key")

// objs turns YAML documents into the JSON objects a build renders.
func objs(t *testing.T, docs ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, d := range docs {
		b, err := yaml.YAMLToJSON([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

const deploy = `apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: web}
spec:
  replicas: 2
  template:
    spec:
      initContainers: [{name: init, image: busybox:1.36}]
      containers:
      - {name: app, image: ghcr.io/acme/frontend:1.2.3}
      - {name: side, image: "envoy@sha256:aaaa"}
`

func TestCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		old, new []string
		want     Overlay // Dir, counts and Notes; Changes compared by action and object only
		changes  []string
	}{
		{
			name: "formatting only is no change",
			old:  []string{deploy},
			new: []string{`# a comment
kind: Deployment
apiVersion: apps/v1
metadata:   {namespace: web, name: frontend}
spec:
  template:
    spec:
      containers:
      - {image: ghcr.io/acme/frontend:1.2.3, name: app}
      - {name: side, image: "envoy@sha256:aaaa"}
      initContainers: [{name: init, image: "busybox:1.36"}]
  replicas: 2
status: {readyReplicas: 9}
`},
			want: Overlay{Unchanged: 1},
		},
		{
			name: "image, init image, digest and replicas",
			old:  []string{deploy},
			new: []string{strings.NewReplacer("frontend:1.2.3", "frontend:1.3.0", "replicas: 2", "replicas: 3",
				"busybox:1.36", "busybox:1.37", "envoy@sha256:aaaa", "docker.io/envoy:v2@sha256:bbbb").Replace(deploy)},
			want: Overlay{Changed: 1, Notes: []Note{
				{Object: Object{Group: "apps", Kind: "Deployment", Namespace: "web", Name: "frontend"}, What: "image", Target: "busybox", From: "1.36", To: "1.37"},
				{Object: Object{Group: "apps", Kind: "Deployment", Namespace: "web", Name: "frontend"}, What: "image", Target: "ghcr.io/acme/frontend", From: "1.2.3", To: "1.3.0"},
				{Object: Object{Group: "apps", Kind: "Deployment", Namespace: "web", Name: "frontend"}, What: "image", From: "envoy@sha256:aaaa", To: "docker.io/envoy:v2@sha256:bbbb"},
				{Object: Object{Group: "apps", Kind: "Deployment", Namespace: "web", Name: "frontend"}, What: "replicas", From: "2", To: "3"},
			}},
			changes: []string{"changed Deployment/web/frontend"},
		},
		{
			name:    "cronjob image",
			old:     []string{"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: 'r:1'}]}}}}}"},
			new:     []string{"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: 'r:2'}]}}}}}"},
			want:    Overlay{Changed: 1, Notes: []Note{{Object: Object{Group: "batch", Kind: "CronJob", Name: "c"}, What: "image", Target: "r", From: "1", To: "2"}}},
			changes: []string{"changed CronJob/c"},
		},
		{
			name:    "added and removed, matched by group too",
			old:     []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: x}\n"},
			new:     []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n", "apiVersion: other.com/v1\nkind: Thing\nmetadata: {name: x}\n"},
			want:    Overlay{Added: 2, Removed: 2},
			changes: []string{"removed ConfigMap/a", "added ConfigMap/b", "removed Thing/x", "added Thing/x"},
		},
		{
			name:    "same name in another namespace is another object",
			old:     []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: one}\n"},
			new:     []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: two}\n"},
			want:    Overlay{Added: 1, Removed: 1},
			changes: []string{"removed ConfigMap/one/a", "added ConfigMap/two/a"},
		},
		{
			name:    "helmrelease chart version",
			old:     []string{"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: p}\nspec: {chart: {spec: {chart: podinfo, version: 6.5.0}}}"},
			new:     []string{"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: p}\nspec: {chart: {spec: {chart: podinfo, version: 6.6.0}}}"},
			want:    Overlay{Changed: 1, Notes: []Note{{Object: Object{Group: "helm.toolkit.fluxcd.io", Kind: "HelmRelease", Name: "p"}, What: "chart", Target: "podinfo", From: "6.5.0", To: "6.6.0"}}},
			changes: []string{"changed HelmRelease/p"},
		},
		{
			name: "helmrelease chartRef to an OCIRepository",
			old: []string{"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: p, namespace: ns}\nspec: {chartRef: {kind: OCIRepository, name: c}}",
				"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: c, namespace: ns}\nspec: {url: oci://ghcr.io/x/podinfo, ref: {semver: 6.5.x}}"},
			new: []string{"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: p, namespace: ns}\nspec: {chartRef: {kind: OCIRepository, name: c}}",
				"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: c, namespace: ns}\nspec: {url: oci://ghcr.io/x/podinfo, ref: {semver: 6.6.x}}"},
			want:    Overlay{Changed: 1, Unchanged: 1, Notes: []Note{{Object: Object{Group: "helm.toolkit.fluxcd.io", Kind: "HelmRelease", Namespace: "ns", Name: "p"}, What: "chart", Target: "oci://ghcr.io/x/podinfo", From: "6.5.x", To: "6.6.x"}}},
			changes: []string{"changed OCIRepository/ns/c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Compare(Side{"production": objs(t, tt.old...)}, Side{"production": objs(t, tt.new...)}, nil, nil, WithKey(testKey))
			if len(got.Overlays) != 1 {
				t.Fatalf("got %d overlays, want 1", len(got.Overlays))
			}
			ov := got.Overlays[0]
			var changes []string
			for _, c := range ov.Changes {
				changes = append(changes, string(c.Action)+" "+c.Object.String())
				if c.Diff == "" {
					t.Errorf("%s: no diff", c.Object)
				}
			}
			if diff := cmp.Diff(tt.changes, changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			ov.Changes = nil
			tt.want.Dir = "production"
			if diff := cmp.Diff(tt.want, ov); diff != "" {
				t.Errorf("overlay (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompareDiffIsUnifiedAndNormalised(t *testing.T) {
	t.Parallel()
	got := Compare(Side{"base": objs(t, deploy)}, Side{"base": objs(t, strings.Replace(deploy, "replicas: 2", "replicas: 3", 1))}, nil, nil, WithKey(testKey))
	want := `--- published
+++ pull request
@@ -4,7 +4,7 @@
   name: frontend
   namespace: web
 spec:
-  replicas: 2
+  replicas: 3
   template:
     spec:
       containers:
`
	if diff := cmp.Diff(want, got.Overlays[0].Changes[0].Diff); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}
}

// TestDiffOfTheLastLine: a change on an object's last line shows as a line removed and a line
// added, each on its own line, as in every other place of the object.
func TestDiffOfTheLastLine(t *testing.T) {
	t.Parallel()
	// Keys are sorted: spec comes last, and z is its last line.
	obj := "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: c}\nspec: {z: one}\n"
	got := Compare(Side{"base": objs(t, obj)}, Side{"base": objs(t, strings.Replace(obj, "one", "two", 1))}, nil, nil, WithKey(testKey))
	want := `--- published
+++ pull request
@@ -3,4 +3,4 @@
 metadata:
   name: c
 spec:
-  z: one
+  z: two
`
	if diff := cmp.Diff(want, got.Overlays[0].Changes[0].Diff); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}
}

// TestRedaction: no Secret value and no SOPS-encrypted string reaches a diff, in any form a
// rendered object can carry it; a changed value still shows as a change.
func TestRedaction(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-very-secret"
	b64 := "aHVudGVyMi12ZXJ5LXNlY3JldA=="
	tests := []struct {
		name     string
		old, new string
	}{
		{"data", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {pw: " + b64 + "}\n", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {pw: " + b64 + "x}\n"},
		{"stringData", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pw: " + secret + "}\n", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pw: " + secret + "2}\n"},
		{"non-map data", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: [" + secret + "]\n", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: [" + secret + "x]\n"},
		{"nested stringData", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pw: {deep: " + secret + "}}\n", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pw: {deep: " + secret + "x}}\n"},
		{"sops secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {pw: 'ENC[AES256_GCM,data:" + secret + ",type:str]'}\nsops: {mac: 'ENC[AES256_GCM,data:" + secret + "mac]'}\n",
			"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {pw: 'ENC[AES256_GCM,data:" + secret + "x,type:str]'}\nsops: {mac: 'ENC[AES256_GCM,data:" + secret + "mac2]'}\n"},
		{"sops configmap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {pw: 'ENC[AES256_GCM,data:" + secret + ",type:str]', list: ['ENC[" + secret + "]']}\n",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {pw: 'ENC[AES256_GCM,data:" + secret + "x,type:str]', list: ['ENC[" + secret + "y]']}\n"},
		{"added secret", "", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pw: " + secret + "}\n"},
		{"removed secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pw: " + secret + "}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var o, n [][]byte
			if tt.old != "" {
				o = objs(t, tt.old)
			}
			if tt.new != "" {
				n = objs(t, tt.new)
			}
			got := Compare(Side{".": o}, Side{".": n}, nil, nil)
			ov := got.Overlays[0]
			if !ov.Different() {
				t.Fatal("a changed value shows as no change")
			}
			all, _ := json.Marshal(got)
			for _, c := range ov.Changes {
				all = append(all, c.Diff...)
				if !strings.Contains(c.Diff, "redacted:") {
					t.Errorf("diff shows no redacted value:\n%s", c.Diff)
				}
			}
			for _, leak := range []string{secret, b64, "hunter2", "AES256_GCM"} {
				if strings.Contains(string(all), leak) {
					t.Errorf("%q leaks:\n%s", leak, all)
				}
			}
		})
	}
}

func TestRedactionSameValueSameHash(t *testing.T) {
	t.Parallel()
	s := "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pw: x}\n"
	got := Compare(Side{".": objs(t, s)}, Side{".": objs(t, s)}, nil, nil)
	if ov := got.Overlays[0]; ov.Different() || ov.Unchanged != 1 {
		t.Errorf("an unchanged Secret shows as %+v", ov)
	}
}

func TestOverlaysAndFiles(t *testing.T) {
	t.Parallel()
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
	got := Compare(Side{"base": objs(t, cm), "staging": objs(t, cm)}, Side{"base": objs(t, cm), "production": objs(t, cm)},
		map[string][]byte{"a.yaml": []byte("1"), "b.yaml": []byte("2"), "c.yaml": []byte("3")},
		map[string][]byte{"a.yaml": []byte("1"), "b.yaml": []byte("22"), "d.yaml": []byte("4")}, WithKey(testKey))
	var overlays []string
	for _, o := range got.Overlays {
		overlays = append(overlays, o.Dir)
	}
	if diff := cmp.Diff([]string{"base", "production", "staging"}, overlays); diff != "" {
		t.Errorf("overlays (-want +got):\n%s", diff)
	}
	if got.Overlays[0].Different() || !got.Overlays[1].Different() || got.Overlays[1].Added != 1 || got.Overlays[2].Removed != 1 {
		t.Errorf("overlays: %+v", got.Overlays)
	}
	want := []File{{"b.yaml", Changed}, {"c.yaml", Removed}, {"d.yaml", Added}}
	if diff := cmp.Diff(want, got.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestDiffBounds(t *testing.T) {
	t.Parallel()
	big := func(v string) string {
		var b strings.Builder
		b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n")
		for i := range 100 {
			fmt.Fprintf(&b, "  k%03d: %s\n", i, v)
		}
		return b.String()
	}
	got := Compare(Side{".": objs(t, big("a"))}, Side{".": objs(t, big("b"))}, nil, nil, WithMaxDiffLines(50))
	if c := got.Overlays[0].Changes[0]; c.Diff != "" || !strings.Contains(c.Omitted, "more than the 50") {
		t.Errorf("a long object: diff %d bytes, omitted %q", len(c.Diff), c.Omitted)
	}
	var o, n []string
	for i := range 10 {
		o = append(o, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c"+itoa(i)+"}\ndata: {a: '1'}\n")
		n = append(n, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c"+itoa(i)+"}\ndata: {a: '2'}\n")
	}
	got = Compare(Side{".": objs(t, o...)}, Side{".": objs(t, n...)}, nil, nil, WithMaxDiffBytes(500))
	kept, omitted := 0, 0
	for _, c := range got.Overlays[0].Changes {
		if c.Diff != "" {
			kept++
		} else if c.Omitted != "" {
			omitted++
		}
	}
	if kept == 0 || omitted == 0 || kept+omitted != 10 || got.Overlays[0].Changed != 10 {
		t.Errorf("a spent budget: %d diffs kept, %d omitted, %d changed", kept, omitted, got.Overlays[0].Changed)
	}
}

func TestSplitImage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, repo, version string }{
		{"nginx", "nginx", ""},
		{"nginx:1.25", "nginx", "1.25"},
		{"localhost:5000/app", "localhost:5000/app", ""},
		{"localhost:5000/app:v1", "localhost:5000/app", "v1"},
		{"app@sha256:ab", "app", "sha256:ab"},
		{"app:v1@sha256:ab", "app", "v1@sha256:ab"},
	} {
		if r, v := splitImage(tt.in); r != tt.repo || v != tt.version {
			t.Errorf("splitImage(%q) = %q, %q, want %q, %q", tt.in, r, v, tt.repo, tt.version)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func FuzzCompare(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"a":"b"}}`), []byte(`{"kind":"Secret","data":"ENC[x]"}`))
	f.Add([]byte(`null`), []byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		got := Compare(Side{".": {a}}, Side{".": {b}}, nil, nil, WithKey(testKey))
		if len(got.Overlays) != 1 {
			t.Fatal("one overlay in, not one out")
		}
	})
}

// TestNumbersShownAsRendered: an object is decoded again from its canonical JSON to be shown,
// and a float reads back from JSON as an integer when it has no fraction (1e6 as 1000000):
// each number still shows as it was rendered.
func TestNumbersShownAsRendered(t *testing.T) {
	t.Parallel()
	obj := func(w int) []byte {
		return fmt.Appendf(nil, `{"apiVersion":"example.com/v1","kind":"Tuning","metadata":{"name":"t"},"spec":{"rate":1e6,"ratio":2.0,"count":1000000,"a":%d}}`, w)
	}
	got := Compare(Side{".": {obj(1)}}, Side{".": {obj(2)}}, nil, nil, WithKey(testKey))
	d := got.Overlays[0].Changes[0].Diff
	for _, want := range []string{"   count: 1000000\n", "   rate: 1e+06\n", "   ratio: 2", "-  a: 1\n", "+  a: 2\n"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
}
