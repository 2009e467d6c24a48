package testenv

import (
	"errors"
	"sort"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Tags lists the tags of repository repo on the loopback registry host, sorted; a repository
// never written to has none. It reads the registry directly, past any proxy or fault.
func Tags(t testing.TB, host, repo string) []string {
	t.Helper()
	r, err := name.NewRepository(host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := remote.List(r)
	if err != nil {
		if notFound(err) {
			return nil
		}
		t.Fatalf("listing the tags of %s: %v", repo, err)
	}
	sort.Strings(ts)
	return ts
}

// DigestAt is the digest tag points at in repository repo on host, or "" when it does not exist.
func DigestAt(t testing.TB, host, repo, tag string) string {
	t.Helper()
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(ref)
	if err != nil {
		if notFound(err) {
			return ""
		}
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return d.Digest.String()
}

// TagMap is every tag of repo on host with the digest it points at.
func TagMap(t testing.TB, host, repo string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tag := range Tags(t, host, repo) {
		out[tag] = DigestAt(t, host, repo, tag)
	}
	return out
}

func notFound(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == 404 {
		return true
	}
	for _, e := range terr.Errors {
		switch e.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
			return true
		}
	}
	return false
}
