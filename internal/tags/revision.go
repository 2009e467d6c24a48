package tags

import (
	"errors"
	"fmt"
	"strings"
)

// Revision returns the org.opencontainers.image.revision annotation Flux
// writes for a commit: "<refName>@sha1:<sha>", or "sha1:<sha>" when refName is
// empty. refName is the short name of the branch or tag (Ref.Name).
func Revision(refName, sha string) string {
	if refName == "" {
		return "sha1:" + sha
	}
	return refName + "@sha1:" + sha
}

// ParseRevision parses an org.opencontainers.image.revision annotation into
// the ref name and the commit. It accepts the form Flux writes now,
// "<branch|tag>@sha1:<40 hex>", and the forms older Flux wrote:
// "sha1:<40 hex>", a bare "<40 hex>" and "<branch>/<40 hex>". For the forms
// without a name, name is "". The commit must be 40 lower-case hex digits.
func ParseRevision(rev string) (name, sha string, err error) {
	if rev == "" {
		return "", "", errors.New("empty revision: expected <branch|tag>@sha1:<40 hex digits>")
	}
	switch {
	case strings.Contains(rev, "@sha1:"):
		i := strings.LastIndex(rev, "@sha1:")
		name, sha = rev[:i], rev[i+len("@sha1:"):]
		if name == "" {
			return "", "", fmt.Errorf("revision %q has no ref name before @sha1: expected <branch|tag>@sha1:<40 hex digits>", rev)
		}
	case strings.HasPrefix(rev, "sha1:"):
		sha = strings.TrimPrefix(rev, "sha1:")
	case strings.Contains(rev, "/") && len(rev) > 41 && rev[len(rev)-41] == '/':
		name, sha = rev[:len(rev)-41], rev[len(rev)-40:]
	default:
		sha = rev
	}
	if validateSHA(sha) != nil {
		return "", "", fmt.Errorf("revision %q does not end in a full SHA-1 commit id: expected <branch|tag>@sha1:<40 lower-case hex digits>", rev)
	}
	return name, sha, nil
}
