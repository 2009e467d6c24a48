package config_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/config"
)

// Fuzz targets: run briefly with `go test -run '^$' -fuzz '^FuzzLoadCLI$' ./internal/config`;
// an input that fails is kept under testdata/fuzz/<target> and replayed by every go test.

// FuzzLoadCLI feeds arbitrary command lines (arguments separated by NUL) to Load and Validate:
// neither may panic, and every problem reported names the flag or input it is about.
func FuzzLoadCLI(f *testing.F) {
	for _, s := range []string{
		"publish",
		"publish\x00--repository\x00127.0.0.1:5000/acme/apps\x00--components\x00a,b",
		"promote\x00--components\x00frontend\x00--version\x00v1.2.3\x00--channel\x00-x",
		"publish\x00--sha-length=99\x00--concurrency=0\x00--max-files=-1\x00--max-size=1Ti",
		"publish\x00--max-size=18014398509481985Ki\x00--max-file-size=0\x00--all=yes\x00--repository\x00 ",
		"publish\x00--annotations\x00org.opencontainers.image.revision=x\x00--trusted-root\x00{\x00--provenance=true",
		"publish\x00--schema-locations\x00nope/{{.Group}}/x.json,https://x\x00--signature-format\x00v3",
		"publish\x00--annotations\x00=v\x00--all=maybe\x00--sign\x00key",
		"publish\x00--path\x00../x\x00--components\x00UP",
		"publish\x00--repository=ghcr.io/Acme//x:tag\x00--latest-tag=latest-stable",
		"publish\x00--fulcio-url\x00ftp://x\x00--certificate-identity-regexp\x00(",
		"verify\x00--bogus", "detect\x00--repository", "\x00", "-x", "help", "publish\x00stray",
		"publish\x00--dry-run\x00sometimes\x00--output\x00yaml\x00--source\x00 ",
		"publish\x00--provenance\x00false\x00--all\x00components\x00--insecure\x00TRUE",
		"publish\x00--repository\x00--all\x00false\x00--\x00true\x00-validate\x00False",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		args := strings.Split(in, "\x00")
		cfg, err := config.Load(args, func(string) string { return "" }, io.Discard)
		check(t, in, cfg, err)
	})
}

// FuzzLoadInputs sets two arbitrary action inputs (the rest take their defaults) inside a
// GitHub Actions environment: Load and Validate never panic, every problem names its input.
func FuzzLoadInputs(f *testing.F) {
	f.Add(uint8(0), "publish", uint8(1), "ghcr.io/acme/apps")
	f.Add(uint8(3), "a,\nb,,UP", uint8(10), "99")
	f.Add(uint8(7), "k=v\nnokey", uint8(15), "keyless")
	f.Add(uint8(20), "http://[::1", uint8(30), "-5")
	f.Add(uint8(12), "v1.2", uint8(0), "promote")
	f.Add(uint8(26), "{\"mediaType\": 1}", uint8(36), "9999999999999999999Gi")
	f.Fuzz(func(t *testing.T, i uint8, v string, j uint8, w string) {
		inputs := config.ActionInputs()
		env := map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/apps", "GITHUB_WORKSPACE": "/work",
			"GITHUB_REF": "refs/heads/main", "GITHUB_SHA": strings.Repeat("a", 40),
		}
		env["INPUT_"+strings.ToUpper(inputs[int(i)%len(inputs)].Name)] = v
		env["INPUT_"+strings.ToUpper(inputs[int(j)%len(inputs)].Name)] = w
		cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
		check(t, v+" / "+w, cfg, err)
	})
}

// check validates what Load returned and holds every problem to naming its flag or input.
func check(t *testing.T, in string, cfg *config.Config, err error) {
	t.Helper()
	if errors.Is(err, config.ErrHelp) {
		return
	}
	var problems []error
	problems = append(problems, config.Unjoin(err)...)
	if cfg != nil {
		_ = cfg.String()
		_ = cfg.Secrets()
		if err == nil {
			problems = append(problems, config.Unjoin(cfg.Validate())...)
		} else {
			_ = cfg.Validate() // must not panic on a half-loaded config either
		}
	}
	for _, p := range problems {
		if !namesInput(p.Error()) {
			t.Errorf("input %q: the error %q names no flag or input", in, p)
		}
	}
}

// namesInput: the error starts with what it is about ("repository: …", "--jobs: …", "input sign:
// …", "path and components: …"), or is one of the command-line errors that quote the offending
// argument.
func namesInput(msg string) bool {
	for _, p := range []string{"missing command", "unexpected argument", "flag provided but not defined: ", "flag needs an argument: ", "bad flag syntax: "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	head, _, ok := strings.Cut(msg, ":")
	if !ok {
		return false
	}
	names := map[string]bool{"command": true}
	for _, o := range config.Options {
		names[o.Name] = true
	}
	for _, part := range strings.Split(head, " and ") {
		part = strings.TrimPrefix(strings.TrimPrefix(part, "--"), "input ")
		if !names[part] {
			return false
		}
	}
	return true
}
