package kustomize

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestListingRendersAsKustomize: a kustomization that only lists renders,
// without kustomize, exactly the objects kustomize renders for it, in the
// same order, and the same findings come of it.
func TestListingRendersAsKustomize(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cm := func(name string) string { return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" }
	tests := []struct {
		name  string
		files fstest.MapFS
	}{
		{"documents, comments and empty ones", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [a.yaml]\n"),
			"a.yaml": file("# head\n---\n" + cm("a") + "---\n---\n# only a comment\n---\n" + deployment)}},
		{"Lists, nested and empty", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [l.yaml]\n"),
			"l.yaml": file("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMapList, items: [{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}]}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: y}}\n---\napiVersion: v1\nkind: List\nitems: []\n")}},
		{"anchors and merge keys", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [m.yaml]\n"),
			"m.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata: &md\n  name: m\n  labels: &l {a: b}\ndata:\n  <<: *l\n  c: d\n")}},
		{"local-config objects", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [a.yaml]\n"),
			"a.yaml": file(cm("kept") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dropped\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n")}},
		{"nested folders, bases, other file names", fstest.MapFS{
			"Kustomization":                 file(kustHeader + "resources: [z.json, sub]\nbases: [other]\n"),
			"z.json":                        file(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"z"},"data":{"n":"1"}}`),
			"sub/kustomization.yml":         file(kustHeader + "resources: [b.yaml, deeper]\n"),
			"sub/b.yaml":                    file(cm("b")),
			"sub/deeper/kustomization.yaml": file(kustHeader + "resources: [c.yaml]\n"),
			"sub/deeper/c.yaml":             file("apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: c\r\n"),
			"other/kustomization.yaml":      file(kustHeader + "resources: [o.yaml]\n"),
			"other/o.yaml":                  file(cm("o")),
		}},
		{"separator lines inside a block scalar", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [a.yaml]\n"),
			"a.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: |\n    one\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n")}},
		{"types kustomize keeps", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [a.yaml]\n"),
			"a.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {on: yes, n: 010, f: 1e3, t: ~}\ndata: {a: !!str 1, b: 0x1F}\n")}},
		{"a file read in chunks", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [many.yaml]\n"),
			"many.yaml": file(manyDocuments(3*listingChunk+7, false))}},
		{"a large file with a List, read whole", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [many.yaml]\n"),
			"many.yaml": file(manyDocuments(3*listingChunk+7, true))}},
		{"a duplicate, left to kustomize", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [a.yaml, b.yaml]\n"),
			"a.yaml": file(cm("same")), "b.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: default\n")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			render := func(viaKustomize bool) (map[string][]string, []Finding) {
				var mu sync.Mutex
				out := map[string][]string{}
				got, err := v.Validate(context.Background(), tt.files, Options{viaKustomize: viaKustomize, observe: func(dir string, _ cost, res buildResult) {
					mu.Lock()
					defer mu.Unlock()
					for _, r := range res.rendered {
						out[dir] = append(out[dir], string(r))
					}
				}})
				if err != nil {
					t.Fatal(err)
				}
				return out, got
			}
			direct, directFindings := render(false)
			kust, kustFindings := render(true)
			if diff := cmp.Diff(kust, direct); diff != "" {
				t.Errorf("rendered objects differ (-kustomize +direct):\n%s", diff)
			}
			if diff := cmp.Diff(kustFindings, directFindings); diff != "" {
				t.Errorf("findings differ (-kustomize +direct):\n%s", diff)
			}
			if len(kust) == 0 && !strings.Contains(tt.name, "duplicate") {
				t.Error("nothing rendered: the case tests nothing")
			}
		})
	}
}

// manyDocuments is a file of n documents of every shape the reader treats
// differently, so that chunk boundaries fall on each: empty and comment-only
// documents, separators with comments, a block scalar that keeps its last
// line breaks, a List among other documents, local-config objects and CRLF
// line ends. Lists are left out unless withList.
func manyDocuments(n int, withList bool) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString([]string{"---\n", "--- # next\n", "---\r\n"}[i%3])
		}
		switch i % 7 {
		case 0:
			fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep-%d\ndata:\n  x: |+\n    text\n\n", i)
		case 1:
			b.WriteString("# only a comment\n")
		case 2:
			if !withList {
				fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s-%d\nstringData:\n  k: ENC[AES256_GCM,data:x,type:str]\nsops:\n  mac: ENC[AES256_GCM,data:y,type:str]\n", i)
				break
			}
			fmt.Fprintf(&b, "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: item-%d}}\n", i)
		case 3:
			fmt.Fprintf(&b, "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: crlf-%d\r\n", i)
		case 4:
			fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local-%d\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n", i)
		case 5:
			// empty document
		default:
			fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c-%d\n  labels: &l {a: b}\ndata:\n  <<: *l\n  n: %d\n", i, i)
		}
	}
	return b.String()
}

// TestListingChunks: a large file is cut at kyaml's separators into pieces
// of two documents or more that hold the whole file; a small one is one
// piece.
func TestListingChunks(t *testing.T) {
	t.Parallel()
	small := []byte(manyDocuments(2*listingChunk-1, true))
	if got := listingChunks(small); len(got) != 1 || !bytes.Equal(got[0], small) {
		t.Errorf("a file of %d documents: %d pieces, want itself", 2*listingChunk-1, len(got))
	}
	data := manyDocuments(3*listingChunk+7, true)
	pieces := listingChunks([]byte(data))
	// An empty document loses its separator to the one before (the reader
	// matches a line break and "---"): fewer separators than documents.
	if len(pieces) < 2 {
		t.Fatalf("%d pieces, want 2 or more", len(pieces))
	}
	for _, p := range pieces {
		if n := len(kustomizeSeparator.FindAllIndex(p, -1)); n < 1 {
			t.Errorf("a piece of %d documents, want two or more", n+1)
		}
	}
}
