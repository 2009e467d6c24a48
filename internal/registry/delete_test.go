package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestRemoteDeletes: the deletes of the remote store against a registry that deletes, and
// how each refusal reads.
func TestRemoteDeletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := memRegistry(t, nil)
	s, err := New().Open(host + "/acme/apps/frontend")
	if err != nil {
		t.Fatal(err)
	}
	p := s.(Pruner)
	m := mustPush(t, s, fluxImage(t, "one"))
	mustTag(t, s, m, "main-1a2b3c4d")
	if ok, err := p.Exists(ctx, m.Digest); !ok || err != nil {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if err := p.DeleteManifest(ctx, m.Digest); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Exists(ctx, m.Digest); ok || err != nil {
		t.Errorf("Exists after the delete = %v, %v; want false, nil", ok, err)
	}
	if err := p.DeleteManifest(ctx, m.Digest); err != nil {
		t.Errorf("deleting a manifest already gone: %v", err)
	}
}

func TestRemoteDeleteRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		status int
		body   string
		tag    bool
		want   error
		text   string
	}{
		{name: "405 to a manifest delete", status: http.StatusMethodNotAllowed, want: ErrDeleteUnsupported, text: "enable deletes"},
		{name: "distribution with deletes off", status: http.StatusMethodNotAllowed, body: `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`, want: ErrDeleteUnsupported},
		{name: "405 to a tag delete", status: http.StatusMethodNotAllowed, tag: true, want: ErrTagDeleteUnsupported},
		{name: "400 to a tag delete", status: http.StatusBadRequest, body: `{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}`, tag: true, want: ErrTagDeleteUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			host := memRegistry(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodDelete {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(tt.status)
						_, _ = w.Write([]byte(tt.body))
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			s, err := New().Open(host + "/acme/apps/frontend")
			if err != nil {
				t.Fatal(err)
			}
			p := s.(Pruner)
			if tt.tag {
				err = p.DeleteTag(ctx, "main-1a2b3c4d")
			} else {
				err = p.DeleteManifest(ctx, v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)})
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "acme/apps/frontend") || (tt.text != "" && !strings.Contains(err.Error(), tt.text)) {
				t.Errorf("err %q: want the repository named and %q", err, tt.text)
			}
		})
	}
}

// TestExistsOnlyFalseOn404: a subject is gone only when the registry says 404; a failure is an
// error, never "gone".
func TestExistsOnlyFalseOn404(t *testing.T) {
	t.Parallel()
	host := memRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	s, err := New().Open(host + "/acme/apps/frontend")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := s.(Pruner).Exists(context.Background(), v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)})
	if err == nil {
		t.Fatalf("Exists on a 403 = %v, nil; want an error", ok)
	}
}

func TestSubjectOf(t *testing.T) {
	t.Parallel()
	hex := strings.Repeat("c", 64)
	for tag, want := range map[string]bool{
		"sha256-" + hex:                              true,
		"sha256-" + hex + ".sig":                     true,
		"sha256-" + hex + ".att":                     true,
		"sha256-" + hex + ".ref." + hex[:32]:         true,
		"sha256-" + hex[:63]:                         false,
		"sha256-" + strings.Repeat("C", 64) + ".sig": false,
		"main-1a2b3c4d":                              false,
		"sha256-" + hex + ".other":                   false,
	} {
		h, ok := SubjectOf(tag)
		if ok != want || (ok && h.Hex != hex) {
			t.Errorf("SubjectOf(%q) = %v, %v", tag, h, ok)
		}
	}
}

func FuzzSubjectOf(f *testing.F) {
	f.Add("sha256-" + strings.Repeat("d", 64) + ".sig")
	f.Add("latest")
	f.Fuzz(func(t *testing.T, tag string) {
		if h, ok := SubjectOf(tag); ok && !strings.Contains(tag, h.Hex) {
			t.Fatalf("SubjectOf(%q) = %s, not from the tag", tag, h)
		}
	})
}
