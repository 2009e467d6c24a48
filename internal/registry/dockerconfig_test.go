package registry

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// TestDockerConfigBounded: the docker config (and podman's auth file) is read through the one
// bounded reader: a FIFO, a device behind a symlink, a folder or a file past the cap where the
// config should be is refused, naming the variable that points there, instead of hanging the
// run or reading without end; a good one answers its credentials.
func TestDockerConfigBounded(t *testing.T) {
	t.Parallel()
	repo, err := name.NewRepository("registry.example.com/acme/apps")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(t *testing.T, setup func(path string)) string {
		dir := t.TempDir()
		setup(filepath.Join(dir, "config.json"))
		return dir
	}
	for _, tc := range []struct {
		name  string
		setup func(path string)
		env   string // the variable pointed at the folder (or file)
		want  string
	}{
		{"FIFO", func(p string) { must(t, syscall.Mkfifo(p, 0o600)) }, "DOCKER_CONFIG", "a named pipe (FIFO), not a regular file"},
		{"symlink to /dev/zero", func(p string) { must(t, os.Symlink("/dev/zero", p)) }, "DOCKER_CONFIG", "a character device, not a regular file"},
		{"folder", func(p string) { must(t, os.Mkdir(p, 0o700)) }, "DOCKER_CONFIG", "a directory, not a regular file"},
		{"past the cap", func(p string) { must(t, os.WriteFile(p, nil, 0o600)); must(t, os.Truncate(p, 1<<32)) }, "DOCKER_CONFIG", "larger than 4 MiB"},
		{"REGISTRY_AUTH_FILE a FIFO", func(p string) { must(t, syscall.Mkfifo(p, 0o600)) }, "REGISTRY_AUTH_FILE", "reading REGISTRY_AUTH_FILE"},
		{"not JSON", func(p string) { must(t, os.WriteFile(p, []byte("{"), 0o600)) }, "DOCKER_CONFIG", "parsing the docker config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := mk(t, tc.setup)
			env := map[string]string{"DOCKER_CONFIG": filepath.Join(dir, "none")}
			if tc.env == "REGISTRY_AUTH_FILE" {
				env["REGISTRY_AUTH_FILE"] = filepath.Join(dir, "config.json")
			} else {
				env["DOCKER_CONFIG"] = dir
			}
			_, _, err := dockerConfigAuth(repo, func(k string) string { return env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("dockerConfigAuth = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		t.Parallel()
		auth := base64.StdEncoding.EncodeToString([]byte("u:p"))
		dir := mk(t, func(p string) {
			must(t, os.WriteFile(p, []byte(`{"auths":{"registry.example.com":{"auth":"`+auth+`"}}}`), 0o600))
		})
		cfg, ok, err := dockerConfigAuth(repo, func(k string) string { return map[string]string{"DOCKER_CONFIG": dir}[k] })
		if err != nil || !ok || cfg.Username != "u" || cfg.Password != "p" {
			t.Fatalf("dockerConfigAuth = %+v, %v, %v", cfg, ok, err)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
