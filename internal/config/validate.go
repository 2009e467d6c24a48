package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/mod/semver"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/inputfile"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// Validate reports every problem with the config at once, each naming the flag or input and
// saying what to do. It runs before any work starts. Each option's own checks come from the
// option table, in its order; the checks that tie options together follow.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for _, o := range Options {
		for _, err := range Unjoin(o.field.check(c)) {
			add("%s: %w", o.Name, err)
		}
	}

	// Where the artifacts come from.
	if c.Path != "" {
		if len(c.Components) > 0 {
			add("path and components: choose one: path publishes one folder as a single artifact, components publishes named components")
		}
	} else if err := component.ValidDir(c.ComponentsDir); err != nil {
		add("components-dir: %v", err)
	}
	for _, err := range c.checkSchemaLocations() {
		add("schema-locations: %w", err)
	}
	if c.Username != "" && c.Password == "" {
		add("registry-password: empty while registry-username is %q: give both, or neither to use the docker config / GITHUB_TOKEN", c.Username)
	}

	// Tags: the tag policy's own checks, so the rules live in one place.
	mainBranch := c.MainBranch
	if mainBranch == "" {
		mainBranch = tags.DefaultMainBranch // the event's default branch is a branch name too
	}
	pol := tags.Policy{MainBranch: mainBranch, LatestTag: c.LatestTag, StableTag: c.StableTag, SHALength: c.SHALength}
	if err := pol.Validate(); err != nil {
		errs = append(errs, Unjoin(err)...)
	}

	if c.Command == Promote {
		switch {
		case c.Version == "":
			add("version: required for promote: give the vX.Y.Z to point %q at", c.Channel)
		case !semver.IsValid(c.Version) || semver.Canonical(c.Version) != c.Version:
			add("version: %q is not a full semantic version: use vX.Y.Z, e.g. v1.2.3", c.Version)
		}
		if c.Path == "" && len(c.Components) == 0 {
			add("components: required for promote: name the component(s) to roll, e.g. --components frontend")
		}
	}

	if n := annotationBytes(c.Annotations); n > MaxAnnotationBytes {
		add("annotations: %d bytes of keys and values, over the %d KiB an artifact's manifest may carry: the manifest is read by every pull and registries refuse large ones only when it is pushed; keep annotations short (link to details instead)", n, MaxAnnotationBytes>>10)
	}

	// Signing.
	if c.Sign == SignKey && c.CosignKey == "" {
		add("cosign-key: required with sign: key: give a PEM private key or a key file")
	}
	if c.CosignKey != "" && c.Sign != SignKey {
		add("cosign-key: given while sign is %q: set sign: key to sign with it", c.Sign)
	}
	if c.Provenance && c.Sign == SignNone {
		add("provenance: true needs a signature, but sign is none: set sign to keyless or key, or provenance: false")
	}
	if c.Provenance && c.Sign != SignNone && c.Command == Publish && (c.GitHub.Repository == "" || c.GitHub.WorkflowRef == "" || c.GitHub.RunID == "") {
		add("provenance: true names the workflow run that built the artifact, but GITHUB_REPOSITORY, GITHUB_WORKFLOW_REF or GITHUB_RUN_ID is not set: run in GitHub Actions, or set provenance: false")
	}
	if c.TrustedRoot != "" && c.Sign == SignNone {
		add("trusted-root: given while sign is none, so nothing is signed or verified: set sign, or leave trusted-root out")
	}
	if (c.Command == Promote || c.Command == Verify) && c.Sign == SignKeyless && c.CertIdentity == "" && c.GitHub.Repository == "" {
		add("certificate-identity-regexp: required to check keyless signatures outside GitHub Actions (there GITHUB_REPOSITORY gives it): e.g. '^https://github\\.com/acme/apps/\\.github/workflows/.+@refs/tags/frontend/v.*$', or sign: none to skip the check")
	}
	if c.Sign != SignNone && c.Sign != "" {
		if _, layout := c.Layout(); layout {
			add("sign: %q needs a registry, but repository is the local folder %q: set repository to a registry, or sign: none", c.Sign, c.Repository)
		}
	}
	return errors.Join(errs...)
}

// MaxAnnotationBytes bounds the user annotations of an artifact, keys and values together: far
// more than any real use, and small next to the 4 MiB a distribution registry stores for a
// manifest (and fleetpush reads back), so that a push never fails on them after other components
// were published.
const MaxAnnotationBytes = 64 << 10

func annotationBytes(a map[string]string) int {
	n := 0
	for k, v := range a {
		n += len(k) + len(v)
	}
	return n
}

// checkSchemaLocations finds the schema locations that cannot work: a remote URL (validation
// runs offline) or a folder that does not exist in the checkout. A template's folder is the part
// before its first variable, so schemas/{{.Group}}/x.json needs schemas/.
func (c *Config) checkSchemaLocations() []error {
	var errs []error
	for _, l := range c.SchemaLocations {
		p := strings.TrimPrefix(l, "file://")
		if strings.Contains(p, "://") {
			errs = append(errs, fmt.Errorf("%q is not a local path: validation runs offline; download the schemas into the repository and give their folder", l))
			continue
		}
		dir := p
		if i := strings.Index(p, "{{"); i >= 0 {
			dir = filepath.Dir(p[:i] + "x") // the folder the fixed prefix names, even without a slash
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(c.Source, dir)
		}
		fi, err := os.Stat(dir)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%q: folder %q not found: give a folder of the checkout that holds the schemas", l, dir))
		case !fi.IsDir():
			errs = append(errs, fmt.Errorf("%q: %q is a file: give the folder that holds the schemas, or a template such as schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json", l, dir))
		}
	}
	return errs
}

// httpURL accepts an absolute http or https URL.
func httpURL(s string) error {
	if p, err := url.Parse(s); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// issuerURL accepts an OIDC issuer: a URL with a scheme and a host, compared exactly.
func issuerURL(s string) error {
	if p, err := url.Parse(s); err != nil || p.Scheme == "" || p.Host == "" {
		return fmt.Errorf("%q is not a URL: give the issuer, e.g. https://token.actions.githubusercontent.com", s)
	}
	return nil
}

func validRegexp(s string) error {
	if _, err := regexp.Compile(s); err != nil {
		return fmt.Errorf("%q is not a regular expression: %v", s, err)
	}
	return nil
}

// validTrustedRoot accepts a JSON object or the path of a file that holds one.
func validTrustedRoot(s string) error {
	data := []byte(s)
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		var err error
		if data, err = inputfile.Read(inputfile.TrustedRoot, s); err != nil {
			var e *inputfile.Error
			if errors.As(err, &e) {
				return errors.New(e.Detail())
			}
			return err
		}
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("not a JSON object (%v): give a Sigstore trusted_root.json", err)
	}
	if _, ok := root["mediaType"]; !ok {
		return errors.New("no mediaType: give a Sigstore trusted_root.json (application/vnd.dev.sigstore.trustedroot+json)")
	}
	return nil
}

// validRepository explains, for the mistakes users make, why a repository prefix is not one.
func validRepository(repo string) error {
	if dir, ok := strings.CutPrefix(repo, LayoutScheme); ok {
		if strings.TrimSpace(dir) == "" {
			return fmt.Errorf("%q names no folder: use e.g. %s", repo, DefaultLayout)
		}
		return nil
	}
	if repo == "" {
		return errors.New("empty: give the OCI prefix, e.g. ghcr.io/acme/apps")
	}
	if strings.Contains(repo, "://") {
		return fmt.Errorf("%q has a scheme: give it without, e.g. %s", repo, repo[strings.Index(repo, "://")+3:])
	}
	if strings.ContainsAny(repo, ":@") && !strings.Contains(strings.SplitN(repo, "/", 2)[0], ":") {
		return fmt.Errorf("%q has a tag or digest: give the prefix only; tags come from the tag policy", repo)
	}
	if strings.HasSuffix(repo, "/") || strings.Contains(repo, "//") {
		// ggcr accepts these, but <repository>/<component> then has an empty segment that every
		// registry rejects, late, at push time.
		return fmt.Errorf("%q has an empty path segment: use %q", repo, strings.Join(strings.FieldsFunc(repo, func(r rune) bool { return r == '/' }), "/"))
	}
	if lower := strings.ToLower(repo); lower != repo {
		return fmt.Errorf("%q has upper-case letters, which OCI names do not allow: use %q", repo, lower)
	}
	if _, err := name.NewRepository(repo); err != nil {
		return fmt.Errorf("%q is not an OCI repository: %v", repo, err)
	}
	return nil
}

// Unjoin flattens an errors.Join tree (any error with Unwrap() []error) into its leaves, so each
// problem is reported on its own line or annotation.
func Unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
