package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/mod/semver"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// Validate reports every problem with the config at once, each naming the flag or input and
// saying what to do. It runs before any work starts.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	known := false
	for _, k := range Commands {
		known = known || c.Command == k
	}
	if !known {
		add("command: %q is not a command: use one of publish, detect, validate, promote, verify", c.Command)
	}
	if c.Output != "text" && c.Output != "json" {
		add("output: %q is not a format: use text or json", c.Output)
	}
	if strings.TrimSpace(c.Source) == "" {
		add("source: empty: give the checkout folder")
	}

	// Where the artifacts come from.
	if c.Path != "" {
		if err := component.ValidDir(c.Path); err != nil {
			add("path: %v", err)
		}
		if len(c.Components) > 0 {
			add("path and components: choose one: path publishes one folder as a single artifact, components publishes named components")
		}
	} else if err := component.ValidDir(c.ComponentsDir); err != nil {
		add("components-dir: %v", err)
	}
	for _, n := range c.Components {
		if err := component.ValidName(n); err != nil {
			add("components: %v", err)
		}
	}

	// Where they go.
	if dir, ok := c.Layout(); ok {
		if strings.TrimSpace(dir) == "" {
			add("repository: %q names no folder: use e.g. oci-layout:dist", c.Repository)
		}
	} else if err := validRepository(c.Repository); err != nil {
		errs = append(errs, err)
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
		errs = append(errs, err)
	}
	if err := tags.ValidateChannel(c.Channel); err != nil {
		add("channel: %v", err)
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

	// Signing.
	switch c.Sign {
	case SignKeyless, SignNone:
	case SignKey:
		if c.CosignKey == "" {
			add("cosign-key: required with sign: key: give a PEM private key, a key file or a KMS URI")
		}
	default:
		add("sign: %q is not a signing mode: use keyless, key or none", c.Sign)
	}
	if c.CosignKey != "" && c.Sign != SignKey {
		add("cosign-key: given while sign is %q: set sign: key to sign with it", c.Sign)
	}
	for _, u := range []struct{ input, v string }{{"fulcio-url", c.FulcioURL}, {"rekor-url", c.RekorURL}} {
		if u.v == "" {
			continue
		}
		if p, err := url.Parse(u.v); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			add("%s: %q is not an http(s) URL", u.input, u.v)
		}
	}
	if (c.Command == Promote || c.Command == Verify) && c.Sign == SignKeyless && c.CertIdentity == "" && c.GitHub.Repository == "" {
		add("certificate-identity-regexp: required to check keyless signatures outside GitHub Actions (there GITHUB_REPOSITORY gives it): e.g. '^https://github\\.com/acme/apps/\\.github/workflows/.+@refs/tags/frontend/v.*$', or sign: none to skip the check")
	}
	if c.Sign != SignNone && c.Sign != "" {
		if _, layout := c.Layout(); layout {
			add("sign: %q needs a registry, but repository is the local folder %q: set repository to a registry, or sign: none", c.Sign, c.Repository)
		}
	}

	if c.CertIdentity != "" {
		if _, err := regexp.Compile(c.CertIdentity); err != nil {
			add("certificate-identity-regexp: %q is not a regular expression: %v", c.CertIdentity, err)
		}
	}
	if c.CertIssuer != "" {
		if p, err := url.Parse(c.CertIssuer); err != nil || p.Scheme == "" || p.Host == "" {
			add("certificate-oidc-issuer: %q is not a URL: give the issuer, e.g. https://token.actions.githubusercontent.com", c.CertIssuer)
		}
	}
	switch c.DryRun {
	case "auto", "true", "false":
	default:
		add("dry-run: %q is not one of auto, true, false", c.DryRun)
	}
	if c.Jobs < 1 {
		add("jobs: %d: use 1 or more", c.Jobs)
	}
	if c.MaxFiles < 1 {
		add("max-files: %d: use 1 or more", c.MaxFiles)
	}
	return errors.Join(errs...)
}

// validRepository explains, for the mistakes users make, why a repository prefix is not one.
func validRepository(repo string) error {
	if repo == "" {
		return errors.New("repository: empty: give the OCI prefix, e.g. ghcr.io/acme/apps")
	}
	if strings.Contains(repo, "://") {
		return fmt.Errorf("repository: %q has a scheme: give it without, e.g. %s", repo, repo[strings.Index(repo, "://")+3:])
	}
	if strings.ContainsAny(repo, ":@") && !strings.Contains(strings.SplitN(repo, "/", 2)[0], ":") {
		return fmt.Errorf("repository: %q has a tag or digest: give the prefix only; tags come from the tag policy", repo)
	}
	if strings.HasSuffix(repo, "/") || strings.Contains(repo, "//") {
		// ggcr accepts these, but <repository>/<component> then has an empty segment that every
		// registry rejects, late, at push time.
		return fmt.Errorf("repository: %q has an empty path segment: use %q", repo, strings.Join(strings.FieldsFunc(repo, func(r rune) bool { return r == '/' }), "/"))
	}
	if lower := strings.ToLower(repo); lower != repo {
		return fmt.Errorf("repository: %q has upper-case letters, which OCI names do not allow: use %q", repo, lower)
	}
	if _, err := name.NewRepository(repo); err != nil {
		return fmt.Errorf("repository: %q is not an OCI repository: %v", repo, err)
	}
	return nil
}
