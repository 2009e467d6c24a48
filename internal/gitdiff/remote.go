package gitdiff

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// RemoteURL returns the https URL of the remote (origin unless WithRemote says otherwise), for
// the artifact's source annotation: "git@github.com:acme/apps.git" and
// "https://token@github.com/acme/apps.git" both become "https://github.com/acme/apps". Credentials
// in the URL are never returned.
func (r *Repo) RemoteURL(ctx context.Context) (string, error) {
	out, err := r.run(ctx, "remote", "get-url", r.o.remote)
	if err != nil {
		return "", err
	}
	return HTTPSURL(strings.TrimSpace(out))
}

// HTTPSURL normalises a git remote URL to https://host/path without ".git" or credentials.
func HTTPSURL(remote string) (string, error) {
	s := strings.TrimSpace(remote)
	if s == "" {
		return "", fmt.Errorf("empty remote URL")
	}
	if !strings.Contains(s, "://") {
		// scp-like syntax: [user@]host:path
		if at := strings.Index(s, "@"); at >= 0 && at < strings.Index(s, ":") {
			s = s[at+1:]
		}
		host, p, ok := strings.Cut(s, ":")
		if !ok || host == "" || strings.HasPrefix(host, "/") {
			return "", fmt.Errorf("remote %q is a local path, not a hosted repository", remote)
		}
		s = "ssh://" + host + "/" + strings.TrimPrefix(p, "/")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("remote URL is not a hosted repository")
	}
	if u.Scheme == "file" {
		return "", fmt.Errorf("remote is a local path, not a hosted repository")
	}
	p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	return "https://" + u.Hostname() + p, nil
}
