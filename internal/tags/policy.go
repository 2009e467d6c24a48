package tags

import (
	"errors"
	"fmt"
	"strings"
)

// Defaults of a Policy: the tag names of the Flux D2 reference architecture.
const (
	DefaultMainBranch = "main"
	DefaultLatestTag  = "latest"
	DefaultStableTag  = "latest-stable"
	// DefaultSHALength is 8 hex digits, as D2's "main-<sha>" tags use; git's
	// own abbreviation (7) becomes ambiguous sooner in large repositories.
	DefaultSHALength = 8
)

// Bounds of Policy.SHALength.
const (
	// MinSHALength is git's shortest abbreviation.
	MinSHALength = 7
	// MaxSHALength is a full SHA-1 commit id.
	MaxSHALength = 40
)

// MaxTagLength is the longest tag the OCI distribution specification allows.
const MaxTagLength = 128

// Policy holds the configurable names of the tag rules. The zero value of a
// field means its default; WithDefaults fills them in.
type Policy struct {
	MainBranch string // the branch whose pushes move LatestTag; default "main"
	LatestTag  string // moving tag of the main branch; default "latest"
	StableTag  string // moving tag of the newest stable release; default "latest-stable"
	SHALength  int    // hex digits of the commit in branch tags, 7..40; default 8
	// Single selects single-artifact mode: release git tags are "vX.Y.Z".
	// Otherwise (component mode) they are "<component>/vX.Y.Z".
	Single bool
}

// WithDefaults returns p with every unset field set to its default.
func (p Policy) WithDefaults() Policy {
	if p.MainBranch == "" {
		p.MainBranch = DefaultMainBranch
	}
	if p.LatestTag == "" {
		p.LatestTag = DefaultLatestTag
	}
	if p.StableTag == "" {
		p.StableTag = DefaultStableTag
	}
	if p.SHALength == 0 {
		p.SHALength = DefaultSHALength
	}
	return p
}

// Validate checks p as given and returns every problem at once, each naming
// its input (main-branch, latest-tag, stable-tag, sha-length). Call it on
// p.WithDefaults() so that unset fields take their defaults.
func (p Policy) Validate() error {
	var errs []error
	if err := validateBranchName(p.MainBranch); err != nil {
		errs = append(errs, fmt.Errorf("main-branch: %w", err))
	}
	if err := ValidateChannel(p.LatestTag); err != nil {
		errs = append(errs, fmt.Errorf("latest-tag: %w", err))
	}
	if err := ValidateChannel(p.StableTag); err != nil {
		errs = append(errs, fmt.Errorf("stable-tag: %w", err))
	}
	if p.LatestTag != "" && p.LatestTag == p.StableTag {
		errs = append(errs, fmt.Errorf("latest-tag and stable-tag: both are %q: they must differ, or one channel would carry both main-branch builds and releases", p.LatestTag))
	}
	if p.SHALength < MinSHALength || p.SHALength > MaxSHALength {
		errs = append(errs, fmt.Errorf("sha-length: %d is out of range: use %d to %d (default %d)", p.SHALength, MinSHALength, MaxSHALength, DefaultSHALength))
	}
	return errors.Join(errs...)
}

// ValidTag reports whether tag is a valid OCI tag:
// [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. (Checked by hand: the regular expression's
// counted repetition compiles to 140 kB and a millisecond of every start.)
func ValidTag(tag string) bool {
	if tag == "" || len(tag) > MaxTagLength || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// hasBranchTagSuffix reports whether tag ends like a branch build tag: "-" and
// 7 to 40 lower-case hex digits (-[0-9a-f]{7,40}$).
func hasBranchTagSuffix(tag string) bool {
	i := strings.LastIndexByte(tag, '-')
	if i < 0 {
		return false
	}
	hex := tag[i+1:]
	if len(hex) < 7 || len(hex) > 40 {
		return false
	}
	for j := 0; j < len(hex); j++ {
		if c := hex[j]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidateChannel checks the name of a moving tag (latest-tag, stable-tag or
// a promote channel). Besides being a valid OCI tag, it must not be mistaken
// for the other two kinds of tags: it must not look like a version (start with
// a digit, or "v"/"V" and a digit), must not end like a branch build tag
// ("-" and 7 to 40 lower-case hex digits), and must not start with the
// prefixes of fleetpush's own records (ClaimPrefix, PromotionPrefix). The
// error does not name the input;
// wrap it with the input's name.
func ValidateChannel(tag string) error {
	switch {
	case tag == "":
		return errors.New("empty: give a tag name such as latest or latest-stable")
	case !ValidTag(tag):
		return fmt.Errorf("%q is not a valid OCI tag: use up to %d letters, digits, '_', '.' or '-', starting with a letter, digit or '_'", tag, MaxTagLength)
	case versionLike(tag):
		return fmt.Errorf("%q looks like a version: a moving tag must not start with a digit or with v and a digit, so that neither fleetpush nor a Flux semver range takes it for a release", tag)
	case hasBranchTagSuffix(tag):
		return fmt.Errorf("%q ends like a branch build tag (<branch>-<7 to 40 hex digits>) and could clash with one: choose another name", tag)
	case reservedPrefix(tag) != "":
		return fmt.Errorf("%q starts with %q, which fleetpush reserves for its release claims and promotion records: choose another name", tag, reservedPrefix(tag))
	}
	return nil
}

// versionLike reports whether s starts the way a lenient semver parser (such
// as the one behind Flux's OCIRepository ref.semver) reads as a version: a
// digit, or "v" or "V" followed by a digit.
func versionLike(s string) bool {
	if s != "" && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	return s != "" && s[0] >= '0' && s[0] <= '9'
}

// validateBranchName checks a short branch name ("main", "feature/x") with
// git's check-ref-format rules; git also refuses branches starting with "-".
func validateBranchName(name string) error {
	switch {
	case name == "":
		return errors.New("empty: give a branch name such as main")
	case strings.HasPrefix(name, "refs/"):
		return fmt.Errorf("%q is a full ref: give the short branch name, such as %q", name, strings.TrimPrefix(strings.TrimPrefix(name, "refs/"), "heads/"))
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("%q is not a valid git branch name: it starts with '-'", name)
	}
	if reason := refNameProblem(name); reason != "" {
		return fmt.Errorf("%q is not a valid git branch name: %s", name, reason)
	}
	return nil
}

// refNameProblem returns why name (the part of a ref after "refs/heads/" or
// "refs/tags/") breaks git's check-ref-format rules, or "" if it does not.
func refNameProblem(name string) string {
	switch {
	case name == "":
		return "it is empty"
	case name == "@":
		return `it is "@"`
	case strings.HasPrefix(name, "/"), strings.HasSuffix(name, "/"):
		return "it starts or ends with '/'"
	case strings.Contains(name, "//"):
		return `it contains "//"`
	case strings.Contains(name, ".."):
		return `it contains ".."`
	case strings.Contains(name, "@{"):
		return `it contains "@{"`
	case strings.HasSuffix(name, "."):
		return "it ends with '.'"
	}
	for _, c := range []byte(name) {
		if c < 0x20 || c == 0x7f {
			return "it contains a control character"
		}
		if strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return fmt.Sprintf("it contains %q", c)
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return fmt.Sprintf("component %q starts with '.'", part)
		}
		if strings.HasSuffix(part, ".lock") {
			return fmt.Sprintf("component %q ends with \".lock\"", part)
		}
	}
	return ""
}
