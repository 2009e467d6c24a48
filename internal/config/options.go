package config

import (
	"fmt"
	"strconv"
	"strings"
)

// kind is how an option's text becomes a value.
type kind int

const (
	kString kind = iota
	kBool
	kInt
	kList
	kMap
)

// Option is one entry of the public interface: a CLI flag and an action input of the same name.
type Option struct {
	Name    string
	Default string // as documented; "" = none or computed (see Usage)
	Usage   string
	Secret  bool
	CLIOnly bool // not an action input (e.g. source: the workspace in Actions)
	kind    kind
	set     func(c *Config, v any)
}

// Options is the interface table (DESIGN "The interface"). Its order is the order of the help
// text and of action.yml.
var Options = []Option{
	{Name: "command", Default: "publish", Usage: "publish, detect, validate, promote or verify (CLI: the sub-command)", kind: kString,
		set: func(c *Config, v any) { c.Command = Command(v.(string)) }},
	{Name: "source", Default: ".", Usage: "the checkout to publish from (in Actions: GITHUB_WORKSPACE)", CLIOnly: true, kind: kString,
		set: func(c *Config, v any) { c.Source = v.(string) }},
	{Name: "repository", Usage: "OCI prefix; a component goes to <repository>/<component> (default: ghcr.io/<owner>/<repo> lower-cased in Actions, oci-layout:dist elsewhere)", kind: kString,
		set: func(c *Config, v any) { c.Repository = v.(string) }},
	{Name: "components", Usage: "explicit list of components (commas or newlines), e.g. ${{ matrix.component }}; default: discovered", kind: kList,
		set: func(c *Config, v any) { c.Components = v.([]string) }},
	{Name: "components-dir", Default: "components", Usage: "where components are discovered", kind: kString,
		set: func(c *Config, v any) { c.ComponentsDir = v.(string) }},
	{Name: "path", Usage: "single-artifact mode: this folder is pushed to <repository> itself", kind: kString,
		set: func(c *Config, v any) { c.Path = v.(string) }},
	{Name: "ignore-paths", Usage: "extra ignore patterns (gitignore syntax), added to Flux's defaults", kind: kList,
		set: func(c *Config, v any) { c.IgnorePaths = v.([]string) }},
	{Name: "annotations", Usage: "extra key=value manifest annotations", kind: kMap,
		set: func(c *Config, v any) { c.Annotations = v.(map[string]string) }},
	{Name: "main-branch", Usage: "the branch whose pushes move latest (default: the event's default branch, else main)", kind: kString,
		set: func(c *Config, v any) { c.MainBranch = v.(string) }},
	{Name: "latest-tag", Default: "latest", Usage: "tag that follows the main branch", kind: kString,
		set: func(c *Config, v any) { c.LatestTag = v.(string) }},
	{Name: "stable-tag", Default: "latest-stable", Usage: "tag that follows the highest release", kind: kString,
		set: func(c *Config, v any) { c.StableTag = v.(string) }},
	{Name: "sha-length", Default: "8", Usage: "hex digits of the commit in <branch>-<sha> tags", kind: kInt,
		set: func(c *Config, v any) { c.SHALength = v.(int) }},
	{Name: "version", Usage: "promote: the vX.Y.Z to point the channel at", kind: kString,
		set: func(c *Config, v any) { c.Version = v.(string) }},
	{Name: "channel", Default: "latest-stable", Usage: "promote: the channel tag to move", kind: kString,
		set: func(c *Config, v any) { c.Channel = v.(string) }},
	{Name: "all", Default: "false", Usage: "ignore git change detection; every component is a candidate", kind: kBool,
		set: func(c *Config, v any) { c.All = v.(bool) }},
	{Name: "validate", Default: "true", Usage: "run validation inside publish", kind: kBool,
		set: func(c *Config, v any) { c.ValidateOn = v.(bool) }},
	{Name: "schema-locations", Usage: "local JSON schema locations (kubeconform layout, e.g. schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json) for custom resources; kinds they do not cover pass with a notice", kind: kList,
		set: func(c *Config, v any) { c.SchemaLocations = v.([]string) }},
	{Name: "sign", Usage: "keyless, key or none (default: keyless in Actions, none elsewhere)", kind: kString,
		set: func(c *Config, v any) { c.Sign = v.(string) }},
	{Name: "cosign-key", Usage: "key for sign: key (PEM, file or KMS URI; password from COSIGN_PASSWORD)", kind: kString, Secret: true,
		set: func(c *Config, v any) { c.CosignKey = v.(string) }},
	{Name: "fulcio-url", Usage: "Fulcio URL of a private Sigstore (default: public Sigstore)", kind: kString,
		set: func(c *Config, v any) { c.FulcioURL = v.(string) }},
	{Name: "rekor-url", Usage: "Rekor URL of a private Sigstore (default: public Sigstore)", kind: kString,
		set: func(c *Config, v any) { c.RekorURL = v.(string) }},
	{Name: "fulcio-root", Usage: "Fulcio root certificate (PEM or file) of a private Sigstore", kind: kString,
		set: func(c *Config, v any) { c.FulcioRoot = v.(string) }},
	{Name: "rekor-public-key", Usage: "Rekor public key (PEM or file) of a private Sigstore", kind: kString,
		set: func(c *Config, v any) { c.RekorPublicKey = v.(string) }},
	{Name: "ct-log-public-key", Usage: "CT log public key (PEM or file) of a private Sigstore: certificates must then carry an SCT", kind: kString,
		set: func(c *Config, v any) { c.CTLogPublicKey = v.(string) }},
	{Name: "certificate-oidc-issuer", Usage: "OIDC issuer a keyless signature must come from (default: GitHub Actions' token issuer of this server)", kind: kString,
		set: func(c *Config, v any) { c.CertIssuer = v.(string) }},
	{Name: "certificate-identity-regexp", Usage: "regular expression the signing certificate's subject must match (default: this repository's workflow and ref; for verify and promote, any workflow of this repository on the release ref)", kind: kString,
		set: func(c *Config, v any) { c.CertIdentity = v.(string) }},
	{Name: "tlog-upload", Default: "true", Usage: "upload signatures to the transparency log", kind: kBool,
		set: func(c *Config, v any) { c.TLogUpload = v.(bool) }},
	{Name: "dry-run", Default: "auto", Usage: "auto (on under act), true or false: plan without writing", kind: kString,
		set: func(c *Config, v any) { c.DryRun = v.(string) }},
	{Name: "registry-username", Usage: "registry user (default: GITHUB_ACTOR for ghcr.io)", kind: kString,
		set: func(c *Config, v any) { c.Username = v.(string) }},
	{Name: "registry-password", Usage: "registry password or token (default: GITHUB_TOKEN for ghcr.io)", kind: kString, Secret: true,
		set: func(c *Config, v any) { c.Password = v.(string) }},
	{Name: "insecure", Default: "false", Usage: "plain HTTP / unverified TLS (loopback is always allowed plain HTTP)", kind: kBool,
		set: func(c *Config, v any) { c.Insecure = v.(bool) }},
	{Name: "output", Default: "text", Usage: "result format on stdout: text or json", CLIOnly: true, kind: kString,
		set: func(c *Config, v any) { c.Output = v.(string) }},
	{Name: "base", Usage: "change detection: the commit to diff from (default: from the event)", kind: kString, CLIOnly: true,
		set: func(c *Config, v any) { c.Base = v.(string) }},
	{Name: "head", Usage: "change detection: the commit to diff to (default: HEAD)", kind: kString, CLIOnly: true,
		set: func(c *Config, v any) { c.Head = v.(string) }},
	{Name: "ref", Usage: "the git ref being published, refs/heads/B or refs/tags/T (default: GITHUB_REF, else the checkout's)", kind: kString, CLIOnly: true,
		set: func(c *Config, v any) { c.Ref = v.(string) }},
	{Name: "jobs", Default: "8", Usage: "components processed at once", kind: kInt, CLIOnly: true,
		set: func(c *Config, v any) { c.Jobs = v.(int) }},
	{Name: "max-files", Default: "10000", Usage: "largest number of files in one artifact", kind: kInt,
		set: func(c *Config, v any) { c.MaxFiles = v.(int) }},
	{Name: "max-size", Default: "100Mi", Usage: "largest uncompressed artifact (bytes, or Ki/Mi/Gi)", kind: kString,
		set: func(c *Config, v any) { c.MaxBytes, _ = parseSize(v.(string)) }},
}

// ActionInputs returns the options that are action inputs, in table order.
func ActionInputs() []Option {
	var out []Option
	for _, o := range Options {
		if !o.CLIOnly {
			out = append(out, o)
		}
	}
	return out
}

// parse turns an option's text into its typed value; errors name the option and say what is
// accepted.
func (o Option) parse(text, origin string) (any, error) {
	switch o.kind {
	case kBool:
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "true", "1", "yes":
			return true, nil
		case "false", "0", "no":
			return false, nil
		}
		return nil, fmt.Errorf("%s: %q is not a boolean: use true or false", origin, text)
	case kInt:
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a whole number", origin, text)
		}
		return n, nil
	case kList:
		return SplitList(text), nil
	case kMap:
		m := map[string]string{}
		for _, kv := range SplitList(text) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, fmt.Errorf("%s: %q is not key=value", origin, kv)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		return m, nil
	default:
		if o.Name == "max-size" {
			if _, err := parseSize(text); err != nil {
				return nil, fmt.Errorf("%s: %w", origin, err)
			}
		}
		return strings.TrimSpace(text), nil
	}
}

// SplitList splits on commas and newlines, trimming blanks: how every list input is read.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for suffix, m := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size: use bytes or a number with Ki, Mi or Gi, e.g. 100Mi", s)
	}
	return n * mult, nil
}
