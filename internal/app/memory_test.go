package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/sign"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// The tests of this file run publish, promote and verify against go-containerregistry's
// in-memory registry with a fake signer: the whole command layer in milliseconds, without the
// installed servers the end-to-end tests need.

// journal records, in order, the writes a registry saw and the signatures a fake signer made, so
// a test can check that nothing was tagged before it was signed.
type journal struct {
	mu      sync.Mutex
	entries []string // "tag <repo>:<tag> <digest>", "push <repo>@<digest>", "sign <repo>@<digest>"
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, fmt.Sprintf(format, args...))
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.entries...)
}

// writes counts the requests that change the registry.
func (j *journal) writes() int {
	n := 0
	for _, e := range j.all() {
		if strings.HasPrefix(e, "tag ") || strings.HasPrefix(e, "push ") || strings.HasPrefix(e, "write ") {
			n++
		}
	}
	return n
}

var manifestPath = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)

// wrap records every manifest write (by tag or by digest) and every other write.
func (j *journal) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		m := manifestPath.FindStringSubmatch(r.URL.Path)
		switch {
		case m != nil && r.Method == http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			sum := sha256.Sum256(b)
			d := "sha256:" + hex.EncodeToString(sum[:])
			if strings.HasPrefix(m[2], "sha256:") {
				j.add("push %s@%s", m[1], d)
			} else {
				j.add("tag %s:%s %s", m[1], m[2], d)
			}
		default:
			j.add("write %s %s", r.Method, r.URL.Path)
		}
		next.ServeHTTP(w, r)
	})
}

// fakeSigner "signs" by remembering digests, and tells the journal.
type fakeSigner struct {
	j      *journal
	mu     sync.Mutex
	signed map[string]bool // repo@digest
	fail   error           // Sign fails with it when set
}

func newFakeSigner(j *journal) *fakeSigner { return &fakeSigner{j: j, signed: map[string]bool{}} }

func (f *fakeSigner) factory(_ context.Context, o sign.Options) (sign.Signer, error) {
	if o.Mode == sign.ModeNone {
		return nil, errors.New("the fake signer is for key mode")
	}
	return f, nil
}

func (f *fakeSigner) key(ref name.Digest) string {
	return ref.Context().RepositoryStr() + "@" + ref.DigestStr()
}

func (f *fakeSigner) Sign(_ context.Context, ref name.Digest, _ ...sign.SignOption) (sign.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return sign.Result{}, f.fail
	}
	k := f.key(ref)
	if f.signed[k] {
		return sign.Result{Status: sign.StatusExisting, Identity: "key", RekorLogIndex: -1}, nil
	}
	f.signed[k] = true
	f.j.add("sign %s", k)
	return sign.Result{Status: sign.StatusNew, Identity: "key", RekorLogIndex: -1}, nil
}

func (f *fakeSigner) Verify(_ context.Context, ref name.Digest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.signed[f.key(ref)] {
		return fmt.Errorf("%s: %w: no signature", ref, sign.ErrVerify)
	}
	return nil
}

func (f *fakeSigner) Verification(ctx context.Context, ref name.Digest) (sign.Verification, error) {
	if err := f.Verify(ctx, ref); err != nil {
		return sign.Verification{}, err
	}
	return sign.Verification{Format: sign.FormatLegacy, Identity: "key"}, nil
}

func (f *fakeSigner) Snippet() string { return "verify:\n  provider: cosign\n" }

// memEnv is an apps repository, an in-memory registry that journals its writes, and a fake
// signer.
type memEnv struct {
	repo   *testenv.GitRepo
	host   string
	j      *journal
	signer *fakeSigner
}

func newMemEnv(t *testing.T) *memEnv {
	t.Helper()
	j := &journal{}
	return &memEnv{repo: apps(t), host: testenv.MemRegistry(t, j.wrap), j: j, signer: newFakeSigner(j)}
}

// publish runs publish of the repository to acme/apps, signing with the fake signer.
func (e *memEnv) publish(t *testing.T, extra ...string) (int, map[string]report.Result, string) {
	t.Helper()
	args := append([]string{"publish", "--source", e.repo.Dir, "--repository", e.host + "/acme/apps", "--sign", "key", "--cosign-key", "fake"}, extra...)
	return publishJSONWith(t, nil, []Option{WithSigner(e.signer.factory), WithClock(stoppedClock{})}, args...)
}

// stoppedClock never moves: every component takes no time.
type stoppedClock struct{}

func (stoppedClock) Now() time.Time                                   { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
func (stoppedClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// TestPlanThenApply: a dry run reports the plan a real run then reports and carries out, the
// same shape; the real run signs every digest before it tags it; a re-run plans reuse.
func TestPlanThenApply(t *testing.T) {
	t.Parallel()
	e := newMemEnv(t)
	sha := e.repo.Head()

	code, dry, stderr := e.publish(t, "--dry-run", "true")
	mustCode(t, code, ExitOK, stderr)
	if n := e.j.writes(); n != 0 {
		t.Fatalf("the dry run wrote %d times: %v", n, e.j.all())
	}
	if len(dry) != 3 {
		t.Fatalf("dry run planned %d components, want 3", len(dry))
	}
	for _, c := range appNames {
		r := dry[c]
		if r.Status != report.Planned || r.Plan == nil || r.Plan.Action != report.ActionPush {
			t.Fatalf("dry run %s: %+v, want a planned push", c, r)
		}
		if got, want := r.Plan.Signatures, []string{"legacy", "bundle"}; !cmp.Equal(got, want) {
			t.Errorf("dry run %s: signatures %v, want %v", c, got, want)
		}
		if got := r.Plan.Tags[0]; got.Tag != "main-"+sha[:8] || got.Action != "write" {
			t.Errorf("dry run %s: first move %+v, want write main-%s", c, got, sha[:8])
		}
	}
	if !strings.Contains(stderr, "plan: push; sign legacy, bundle; tag main-"+sha[:8]+" (write)") {
		t.Errorf("the dry run's log does not show the plan:\n%s", stderr)
	}

	code, real, stderr := e.publish(t)
	mustCode(t, code, ExitOK, stderr)
	for _, c := range appNames {
		r, d := real[c], dry[c]
		if r.Status != report.Pushed || r.Digest != d.Digest || r.Size != d.Size {
			t.Errorf("%s: %s %s (%d bytes), want pushed %s (%d bytes) as planned", c, r.Status, r.Digest, r.Size, d.Digest, d.Size)
		}
		if diff := cmp.Diff(d.Plan, r.Plan); diff != "" {
			t.Errorf("%s: the real run's plan differs from the dry run's (-dry +real):\n%s", c, diff)
		}
		if r.Signed != "new" || !r.Verified {
			t.Errorf("%s: signed %q verified %v, want new and verified", c, r.Signed, r.Verified)
		}
		if r.Duration != 0 {
			t.Errorf("%s took %v by a clock that does not move", c, time.Duration(r.Duration))
		}
	}
	checkSignedBeforeTagged(t, e.j.all())

	// A dry run now plans reuse, as the re-run then does.
	code, dryAgain, stderr := e.publish(t, "--dry-run", "true")
	mustCode(t, code, ExitOK, stderr)
	code, again, stderr := e.publish(t)
	mustCode(t, code, ExitOK, stderr)
	for _, c := range appNames {
		if d, r := dryAgain[c], again[c]; d.Status != report.Unchanged || d.Digest != r.Digest || !cmp.Equal(d.Plan, r.Plan) {
			t.Errorf("dry run of the re-run %s: %+v, want unchanged with the re-run's digest and plan %+v", c, d, r.Plan)
		}
	}
	for _, c := range appNames {
		r := again[c]
		if r.Status != report.Unchanged || r.Changed || r.Plan.Action != report.ActionReuse || r.Digest != real[c].Digest || r.Signed != "existing" {
			t.Errorf("re-run %s: %+v, want unchanged, reused and already signed", c, r)
		}
		if got := r.Plan.Tags[0]; got.Action != "present" {
			t.Errorf("re-run %s: first move %+v, want present", c, got)
		}
	}
}

// checkSignedBeforeTagged fails when a tag was written for a digest that was not signed yet.
func checkSignedBeforeTagged(t *testing.T, entries []string) {
	t.Helper()
	signed := map[string]bool{}
	tagged := 0
	for _, e := range entries {
		f := strings.Fields(e)
		switch f[0] {
		case "sign":
			signed[f[1]] = true
		case "tag":
			repo, _, _ := strings.Cut(f[1], ":")
			if !signed[repo+"@"+f[2]] {
				t.Errorf("%s was tagged before it was signed:\n%s", f[1], strings.Join(entries, "\n"))
			}
			tagged++
		}
	}
	if tagged == 0 {
		t.Errorf("nothing was tagged:\n%s", strings.Join(entries, "\n"))
	}
}

// TestPlanFinishesWhatAStoppedRunLeft: a run that pushed but could not sign leaves the digest
// untagged; the next run plans to finish it (no second push) and tags it once signed.
func TestPlanFinishesWhatAStoppedRunLeft(t *testing.T) {
	t.Parallel()
	e := newMemEnv(t)
	e.signer.fail = errors.New("the signing service is down")
	code, first, stderr := e.publish(t, "--components", "frontend")
	mustCode(t, code, ExitFailed, stderr)
	if r := first["frontend"]; r.Status != report.Failed || !strings.Contains(r.Error, "the signing service is down") {
		t.Fatalf("frontend = %+v, want failed naming the signer's error", r)
	}
	for _, entry := range e.j.all() {
		if strings.HasPrefix(entry, "tag ") {
			t.Fatalf("a run that could not sign wrote a tag: %s", entry)
		}
	}

	e.signer.fail = nil
	pushes := strings.Count(strings.Join(e.j.all(), "\n"), "push acme/apps/frontend@")
	code, dry, stderr := e.publish(t, "--components", "frontend", "--dry-run", "true")
	mustCode(t, code, ExitOK, stderr)
	if r := dry["frontend"]; r.Plan == nil || r.Plan.Action != report.ActionFinish || r.Status != report.Planned || !strings.Contains(stderr, "would finish") {
		t.Errorf("dry run: frontend = %+v, want a planned finish\n%s", r, stderr)
	}
	code, rs, stderr := e.publish(t, "--components", "frontend")
	mustCode(t, code, ExitOK, stderr)
	r := rs["frontend"]
	if r.Plan == nil || r.Plan.Action != report.ActionFinish || r.Status != report.Pushed || !r.Changed || r.Signed != "new" {
		t.Errorf("frontend = %+v, want its leftover digest finished: signed and tagged", r)
	}
	if n := strings.Count(strings.Join(e.j.all(), "\n"), "push acme/apps/frontend@"); n != pushes {
		t.Errorf("the finishing run pushed the artifact again (%d pushes, %d before)", n, pushes)
	}
	if !strings.Contains(stderr, "without a tag (an earlier run stopped half-way): finishing it") {
		t.Errorf("the log does not say the digest was finished:\n%s", stderr)
	}
	checkSignedBeforeTagged(t, e.j.all())
}

// TestPlanRefusesOtherContentUnderAnImmutableTag: the same commit built with other content (an
// input changed) is refused at planning, in a dry run as in a real run, and nothing is written.
func TestPlanRefusesOtherContentUnderAnImmutableTag(t *testing.T) {
	t.Parallel()
	e := newMemEnv(t)
	code, _, stderr := e.publish(t, "--components", "frontend")
	mustCode(t, code, ExitOK, stderr)
	before := e.j.writes()
	for _, dry := range []string{"true", "false"} {
		code, rs, stderr := e.publish(t, "--components", "frontend", "--ignore-paths", "staging/", "--dry-run", dry)
		mustCode(t, code, ExitFailed, stderr)
		if r := rs["frontend"]; r.Status != report.Failed || !strings.Contains(r.Error, "this build of the same commit gives") || r.Plan != nil {
			t.Errorf("dry run %s: frontend = %+v, want refused at planning, naming the commit", dry, r)
		}
	}
	if n := e.j.writes(); n != before {
		t.Errorf("refused runs wrote %d times", n-before)
	}
}

// TestDryRunPlansAroundAnUnreadableRegistry: a dry run whose registry cannot be read (no
// credentials on a laptop, a registry down) still prints a plan and says what it could not read;
// a real run fails on the same registry.
func TestDryRunPlansAroundAnUnreadableRegistry(t *testing.T) {
	t.Parallel()
	host := testenv.MemRegistry(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
		})
	})
	repo := apps(t)
	args := []string{"publish", "--source", repo.Dir, "--repository", host + "/acme/apps", "--components", "cache"}
	code, rs, stderr := publishJSON(t, nil, append(args, "--dry-run", "true")...)
	mustCode(t, code, ExitOK, stderr)
	if r := rs["cache"]; r.Status != report.Planned || r.Plan == nil || r.Plan.Action != report.ActionPush || r.Digest == "" {
		t.Errorf("dry run: cache = %+v, want a planned push with its digest", r)
	}
	if !strings.Contains(stderr, "planning as if it did not exist") {
		t.Errorf("the dry run does not say it could not read the registry:\n%s", stderr)
	}
	code, rs, stderr = publishJSON(t, nil, append(args, "--dry-run", "false")...)
	mustCode(t, code, ExitFailed, stderr)
	if r := rs["cache"]; r.Status != report.Failed || r.Error == "" {
		t.Errorf("real run: cache = %+v, want failed", r)
	}
}

// TestLayoutCannotCarrySignatures: a repository names digests for the signer; an OCI layout
// folder answers with an error that says what to do (config refuses the combination first; this
// is the second line).
func TestLayoutCannotCarrySignatures(t *testing.T) {
	t.Parallel()
	st := newStores(nil, "oci-layout:"+filepath.Join(t.TempDir(), "dist"))
	repo, err := st.open(st.target(component.Component{Name: "cache", Dir: "components/cache"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Reference(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}); err == nil || !strings.Contains(err.Error(), "cannot carry signatures") {
		t.Errorf("Reference in a layout = %v, want an error naming it", err)
	}
}

// TestPromoteAndVerifyInMemory: promote refuses an unsigned release and moves the channel to a
// signed one (planned first in a dry run); verify checks the channel's signature.
func TestPromoteAndVerifyInMemory(t *testing.T) {
	t.Parallel()
	e := newMemEnv(t)
	e.repo.Git("tag", "frontend/v1.0.0")
	code, _, stderr := run(t, nil, "publish", "--source", e.repo.Dir, "--repository", e.host+"/acme/apps", "--ref", "refs/tags/frontend/v1.0.0", "--sign", "none")
	mustCode(t, code, ExitOK, stderr)
	e.repo.Write("components/frontend/base/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: frontend\ndata:\n  k: v\n")
	e.repo.Commit("frontend: extra")
	e.repo.Git("tag", "frontend/v1.1.0")
	code, rs, stderr := e.publish(t, "--ref", "refs/tags/frontend/v1.1.0")
	mustCode(t, code, ExitOK, stderr)
	v110 := rs["frontend"].Digest
	if got := testenv.DigestAt(t, e.host, "acme/apps/frontend", "latest-stable"); got != v110 {
		t.Fatalf("latest-stable = %s, want v1.1.0 %s", got, v110)
	}

	promote := func(version string, extra ...string) (int, map[string]report.Result, string) {
		args := append([]string{"promote", "--source", e.repo.Dir, "--repository", e.host + "/acme/apps", "--components", "frontend",
			"--version", version, "--sign", "key", "--cosign-key", "fake"}, extra...)
		return publishJSONWith(t, nil, []Option{WithSigner(e.signer.factory)}, args...)
	}
	code, _, stderr = promote("v1.0.0")
	if code != ExitFailed || !strings.Contains(stderr, "refusing to promote v1.0.0") {
		t.Errorf("promote of the unsigned v1.0.0: exit %d, want a refusal:\n%s", code, stderr)
	}

	// Sign v1.0.0 as a release run would have, then roll back to it: planned, then done.
	v100 := testenv.DigestAt(t, e.host, "acme/apps/frontend", "v1.0.0")
	e.signer.signed["acme/apps/frontend@"+v100] = true
	code, rs, stderr = promote("v1.0.0", "--dry-run", "true")
	mustCode(t, code, ExitOK, stderr)
	if r := rs["frontend"]; r.Status != report.Planned || r.From != v110 || !r.Verified {
		t.Errorf("dry-run promote = %+v, want planned from v1.1.0 %s, verified", r, v110)
	}
	if got := testenv.DigestAt(t, e.host, "acme/apps/frontend", "latest-stable"); got != v110 {
		t.Errorf("a dry-run promote moved latest-stable to %s", got)
	}
	code, rs, stderr = promote("v1.0.0")
	mustCode(t, code, ExitOK, stderr)
	if r := rs["frontend"]; r.Status != report.Promoted || r.Digest != v100 {
		t.Errorf("promote = %+v, want promoted to %s", r, v100)
	}
	if got := testenv.DigestAt(t, e.host, "acme/apps/frontend", "latest-stable"); got != v100 {
		t.Errorf("after promote latest-stable = %s, want v1.0.0 %s", got, v100)
	}
	code, rs, stderr = promote("v1.0.0")
	mustCode(t, code, ExitOK, stderr)
	if r := rs["frontend"]; r.Status != report.Unchanged {
		t.Errorf("promote again = %+v, want unchanged", r)
	}

	code, out, stderr := runWith(t, nil, []Option{WithSigner(e.signer.factory)}, "verify", "--source", e.repo.Dir, "--repository", e.host+"/acme/apps",
		"--components", "frontend", "--version", "v1.1.0", "--sign", "key", "--cosign-key", "fake", "--output", "json")
	mustCode(t, code, ExitOK, stderr)
	if r := decodeResults(t, out, stderr)["frontend"]; r.Status != report.Verified || r.Digest != v110 {
		t.Errorf("verify v1.1.0 = %+v, want verified %s", r, v110)
	}
}

// TestEventReadOnce: the event's default branch is the main branch (latest moves on a push to
// it), and a payload that cannot be read costs change detection and the default branch, with a
// warning, never the run.
func TestEventReadOnce(t *testing.T) {
	t.Parallel()
	repo := apps(t)
	repo.Git("branch", "-m", "trunk")
	host := testenv.MemRegistry(t, nil)
	sha := repo.Head()
	for _, tc := range []struct {
		name       string
		event      string
		wantLatest bool
		wantLog    string
	}{
		{"default branch trunk", testenv.Event(t, map[string]any{"ref": "refs/heads/trunk", "before": strings.Repeat("0", 40), "after": sha,
			"repository": map[string]any{"default_branch": "trunk"}}), true, "detect: "},
		{"unreadable payload", filepath.Join(t.TempDir(), "missing.json"), false, "change detection treats every component as a candidate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{
				"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": tc.event, "GITHUB_REF": "refs/heads/trunk", "GITHUB_SHA": sha,
				"INPUT_REPOSITORY": host + "/acme/" + strings.ReplaceAll(tc.name, " ", "-"), "INPUT_SIGN": "none",
			})
			code, _, stderr := run(t, env)
			mustCode(t, code, ExitOK, stderr)
			rs := actionResults(t, env)
			if len(rs) != 3 {
				t.Fatalf("published %d components, want all 3: %v", len(rs), rs)
			}
			for c, r := range rs {
				if got := slices.Contains(r.Tags, "latest"); got != tc.wantLatest {
					t.Errorf("%s: tags %v, latest wanted: %v", c, r.Tags, tc.wantLatest)
				}
			}
			if !strings.Contains(stderr, tc.wantLog) {
				t.Errorf("the log lacks %q:\n%s", tc.wantLog, stderr)
			}
		})
	}
}
