package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/tags"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestWrongLogEntry: key signing with the transparency log, through a log that answers uploads
// with an earlier entry of another signature (as a 201, and as a 409 pointing at it). publish
// refuses every component with an error that says so, and leaves the registry without a tag, a
// signature or a referrer for them. A legacy signature whose log entry was swapped for another
// signature's, planted in the registry, is not verified by `fleetpush verify`; a re-run of
// publish does not count it as signed, and signs the digest anew.
func TestWrongLogEntry(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	st := testenv.Sigstore(t)
	repo := apps(t)
	stale := testenv.NewStaleLog(t, st.RekorURL)
	key, err := cosignKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"COSIGN_PASSWORD": keyPassword}
	args := func(command, prefix, format string) []string {
		return []string{command, "--source", repo.Dir, "--repository", host + "/acme/" + prefix, "--all", "--validate=false",
			"--sign", "key", "--cosign-key", keyFile, "--tlog-upload=true", "--rekor-url", stale.URL,
			"--rekor-public-key", st.RekorPublicKeyFile, "--signature-format", format}
	}

	// The log's earlier entries, of other signatures.
	code, _, stderr := publishJSON(t, env, args("publish", "earlier", "both")...)
	mustCode(t, code, ExitOK, stderr)

	for _, conflict := range []bool{false, true} {
		prefix := map[bool]string{false: "wrong-created", true: "wrong-conflict"}[conflict]
		t.Run(prefix, func(t *testing.T) {
			stale.Answer(testenv.EveryUpload, conflict)
			code, rs, stderr := publishJSON(t, env, args("publish", prefix, "both")...)
			stale.Answer(nil, false)
			if code == ExitOK {
				t.Fatalf("publish through a log answering with other entries succeeded:\n%s", stderr)
			}
			for _, c := range appNames {
				r := rs[c]
				if r.Status != report.Failed || !strings.Contains(r.Error, "entry of another signature") || !strings.Contains(r.Error, "rekor-url") {
					t.Errorf("%s: %s %q, want failed, naming the log's wrong entry and rekor-url", c, r.Status, r.Error)
				}
				for _, tag := range testenv.Tags(t, host, "acme/"+prefix+"/"+c) {
					if !tags.IsRecord(tag) {
						t.Errorf("%s: tag %s written; want no tag, signature or referrer", c, tag)
					}
				}
			}
		})
	}

	t.Run("planted", func(t *testing.T) {
		code, _, stderr := publishJSON(t, env, args("publish", "planted", "legacy")...)
		mustCode(t, code, ExitOK, stderr)
		// frontend's signature, with backend's log entry in place of its own.
		frontend := testenv.DigestAt(t, host, "acme/planted/frontend", "latest")
		backend := testenv.DigestAt(t, host, "acme/planted/backend", "latest")
		foreign := sigAnnotation(t, host, "acme/planted/backend", backend, "dev.sigstore.cosign/bundle")
		setSigAnnotation(t, host, "acme/planted/frontend", frontend, "dev.sigstore.cosign/bundle", foreign)

		code, out, stderr := runWith(t, env, nil, append(args("verify", "planted", "legacy"), "--output", "json")...)
		if code == ExitOK {
			t.Fatalf("verify passed with a planted signature whose log entry is another's:\n%s", stderr)
		}
		rs := decodeResults(t, out, stderr)
		if r := rs["frontend"]; r.Verified || r.Status != report.Failed {
			t.Errorf("verify frontend = %s (verified %t), want failed: its log entry is another signature's", r.Status, r.Verified)
		}
		for _, c := range []string{"backend", "cache"} {
			if r := rs[c]; !r.Verified {
				t.Errorf("verify %s = %s %q, want verified", c, r.Status, r.Error)
			}
		}

		// A re-run does not take the planted signature for one: it signs frontend anew.
		code, rs, stderr = publishJSON(t, env, args("publish", "planted", "legacy")...)
		mustCode(t, code, ExitOK, stderr)
		if r := rs["frontend"]; r.Signed != "healed" {
			t.Errorf("re-run frontend: signed %q, want healed", r.Signed)
		}
		if r := rs["backend"]; r.Signed != "existing" {
			t.Errorf("re-run backend: signed %q, want existing", r.Signed)
		}
		code, _, stderr = run(t, env, args("verify", "planted", "legacy")...)
		mustCode(t, code, ExitOK, stderr)
	})
}

// sigManifest is the legacy signature manifest of digest d in repo, as stored.
func sigManifest(t *testing.T, host, repo, d string) (name.Tag, types.MediaType, map[string]any) {
	t.Helper()
	tag, err := name.NewTag(host+"/"+repo+":"+strings.Replace(d, ":", "-", 1)+".sig", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	return tag, desc.MediaType, m
}

// sigAnnotation is an annotation of the first legacy signature of d.
func sigAnnotation(t *testing.T, host, repo, d, key string) string {
	t.Helper()
	_, _, m := sigManifest(t, host, repo, d)
	return m["layers"].([]any)[0].(map[string]any)["annotations"].(map[string]any)[key].(string)
}

// setSigAnnotation rewrites the first legacy signature of d with an annotation set to value.
func setSigAnnotation(t *testing.T, host, repo, d, key, value string) {
	t.Helper()
	tag, mt, m := sigManifest(t, host, repo, d)
	m["layers"].([]any)[0].(map[string]any)["annotations"].(map[string]any)[key] = value
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(tag, rawManifest{raw: raw, mediaType: mt}); err != nil {
		t.Fatal(err)
	}
}

// rawManifest is a manifest to put as it is.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mediaType, nil }
