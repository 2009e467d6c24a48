package registry

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// TestDockerConfigCredentialsAreMasked: a password the docker config holds is handed to the mask
// function, with its base64 user:password form, before the client uses it.
func TestDockerConfigCredentialsAreMasked(t *testing.T) {
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("robot:docker-config-s3cret"))
	cfg := `{"auths": {"registry.example.com": {"auth": "` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir) // the docker config's own seam; not parallel for that reason

	var masked []string
	c := New(WithMask(func(user, secret string) { masked = append(masked, user+":"+secret) }))
	repo, err := name.NewRepository("registry.example.com/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.keychain().Resolve(repo)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if got.Password != "docker-config-s3cret" {
		t.Fatalf("the keychain answered password %q, want the docker config's", got.Password)
	}
	if !slices.Contains(masked, "robot:docker-config-s3cret") {
		t.Errorf("masked %q, want the docker config's password among them", masked)
	}
}
