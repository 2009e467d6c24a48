package gitdiff

import (
	"strings"
	"testing"
)

func TestGitErrorRedactsURLCredentials(t *testing.T) {
	t.Parallel()
	err := &gitError{
		args:   []string{"fetch", "origin"},
		stderr: "fatal: unable to access 'https://x-access-token:ghs_secret@github.com/o/r/': 403\n",
	}
	got := err.Error()
	if strings.Contains(got, "ghs_secret") || strings.Contains(got, "x-access-token") {
		t.Errorf("error shows the credentials: %s", got)
	}
	if !strings.Contains(got, "https://***@github.com/o/r/") {
		t.Errorf("error lost the URL: %s", got)
	}
}
