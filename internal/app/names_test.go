package app

import (
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestNamesCheckedBeforeAnyWrite: a repository name over the registry's limit for one component
// stops the run before anything is written, for every component, with an error that names the
// component, the input and the limit; a name exactly at the limit passes. The same holds for a
// single artifact and for promote.
func TestNamesCheckedBeforeAnyWrite(t *testing.T) {
	t.Parallel()
	host := testenv.MemRegistry(t, nil)
	proxy := testenv.NewProxy(t, host)
	repo := apps(t)
	// <host>/acme/<x…>/frontend is 256 characters, /backend 255, /cache 253.
	prefix := proxy.Host + "/acme/" + strings.Repeat("x", 256-len(proxy.Host)-len("/acme/")-len("/frontend"))
	writes := func() int {
		return proxy.Count("DELETE", "manifest") + proxy.Count("PUT", "manifest") + proxy.Count("POST", "blob-upload") + proxy.Count("PATCH", "blob-upload") + proxy.Count("PUT", "blob-upload")
	}
	for _, tt := range []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{
			name: "one component over the limit",
			args: []string{"publish", "--source", repo.Dir, "--repository", prefix, "--all"},
			want: []string{`component "frontend": repository "` + prefix + `/frontend" is 256 characters long, over the 255 a registry accepts for a repository name (host and path): shorten the repository input or the component's name (components)`},
			not:  []string{`component "backend"`, `component "cache"`},
		},
		{
			name: "a dry run fails the same way",
			args: []string{"publish", "--source", repo.Dir, "--repository", prefix, "--all", "--dry-run", "true"},
			want: []string{`component "frontend": repository`},
		},
		{
			name: "a release of the component over the limit",
			args: []string{"publish", "--source", repo.Dir, "--repository", prefix, "--ref", "refs/tags/frontend/v1.0.0"},
			want: []string{`component "frontend": repository`},
		},
		{
			name: "a single artifact over the limit",
			args: []string{"publish", "--source", repo.Dir, "--repository", prefix + "/frontend", "--path", "."},
			want: []string{`the artifact: repository "` + prefix + `/frontend" is 256 characters long, over the 255 a registry accepts for a repository name (host and path): shorten the repository input`},
		},
		{
			name: "promote",
			args: []string{"promote", "--source", repo.Dir, "--repository", prefix, "--components", "frontend,backend", "--version", "v1.0.0", "--sign", "none"},
			want: []string{`component "frontend": repository`},
			not:  []string{`component "backend"`},
		},
		{
			name: "prune",
			args: []string{"prune", "--source", repo.Dir, "--repository", prefix, "--components", "frontend,backend", "--keep", "1", "--keep-days", "0", "--dry-run=false"},
			want: []string{`component "frontend": repository`},
			not:  []string{`component "backend"`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proxy.Reset()
			code, _, stderr := run(t, nil, tt.args...)
			mustCode(t, code, ExitUsage, stderr)
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(stderr, w) {
					t.Errorf("stderr names %q, whose name is within the limit:\n%s", w, stderr)
				}
			}
			if n := writes(); n != 0 {
				t.Errorf("the run wrote %d times before failing", n)
			}
		})
	}
	// At the limit: backend and cache alone publish.
	code, _, stderr := run(t, nil, "publish", "--source", repo.Dir, "--repository", prefix, "--components", "backend,cache")
	mustCode(t, code, ExitOK, stderr)
}
