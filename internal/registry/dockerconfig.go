package registry

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/fleetpush/fleetpush/internal/inputfile"
)

// dockerConfigFile finds the docker config where go-containerregistry's default keychain looks
// (the docker config folder, DOCKER_CONFIG or ~/.docker; else REGISTRY_AUTH_FILE; else podman's
// auth.json) and reads it through the one bounded reader of files the environment names:
// go-containerregistry would read a FIFO or a device there without end. nil and no error: there
// is none.
func dockerConfigFile(getenv func(string) string) (*configfile.ConfigFile, error) {
	home, _ := os.UserHomeDir()
	type place struct{ env, path string }
	var places []place
	if dir := getenv("DOCKER_CONFIG"); dir != "" {
		places = append(places, place{"DOCKER_CONFIG", filepath.Join(dir, config.ConfigFileName)})
	} else if home != "" {
		places = append(places, place{"DOCKER_CONFIG", filepath.Join(home, ".docker", config.ConfigFileName)})
	}
	if p := getenv("REGISTRY_AUTH_FILE"); p != "" {
		places = append(places, place{"REGISTRY_AUTH_FILE", p})
	}
	if dir := getenv("XDG_RUNTIME_DIR"); dir != "" {
		places = append(places, place{"XDG_RUNTIME_DIR", filepath.Join(dir, "containers", "auth.json")})
	}
	cfgDir := getenv("XDG_CONFIG_HOME")
	if cfgDir == "" && home != "" {
		cfgDir = filepath.Join(home, ".config")
	}
	if cfgDir != "" {
		places = append(places, place{"XDG_CONFIG_HOME", filepath.Join(cfgDir, "containers", "auth.json")})
	}
	for _, p := range places {
		if _, err := os.Stat(p.path); err != nil {
			continue // not there: the next place, as go-containerregistry does
		}
		k := inputfile.DockerConfig
		k.Input = p.env
		b, err := inputfile.Read(k, p.path)
		if err != nil {
			return nil, err
		}
		cf, err := config.LoadFromReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("parsing the docker config %q (from %s): %w", p.path, p.env, err)
		}
		return cf, nil
	}
	return nil, nil
}

// dockerConfigAuth is the docker config's entry for r, as go-containerregistry's default
// keychain picks it (the repository, then the registry; Docker Hub under its legacy key),
// credential helpers included; ok is false when there is none.
func dockerConfigAuth(r authn.Resource, getenv func(string) string) (authn.AuthConfig, bool, error) {
	cf, err := dockerConfigFile(getenv)
	if err != nil || cf == nil {
		return authn.AuthConfig{}, false, err
	}
	for _, key := range []string{r.String(), r.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		cfg, err := cf.GetAuthConfig(key)
		if err != nil {
			return authn.AuthConfig{}, false, err
		}
		cfg.ServerAddress = "" // set by GetAuthConfig; unused, and it would make every entry non-empty
		if cfg != (types.AuthConfig{}) {
			return authn.AuthConfig{
				Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth,
				IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken,
			}, true, nil
		}
	}
	return authn.AuthConfig{}, false, nil
}
