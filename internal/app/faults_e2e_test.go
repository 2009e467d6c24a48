package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/sign"
	"github.com/fleetpush/fleetpush/internal/tags"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// crashTransport simulates the process dying right after its k-th successful write to a registry
// host: every later request fails at once, so nothing more reaches the registry, as when a job
// is killed. Hosts without a plan pass. A run uses it through WithRegistryOptions.
func newCrashTransport() *crashTransport {
	return &crashTransport{base: baseTransport(), plans: map[string]*crashPlan{}}
}

func baseTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	return t
}

type crashTransport struct {
	base  http.RoundTripper
	mu    sync.Mutex
	plans map[string]*crashPlan
}

type crashPlan struct {
	after  int64 // crash after this many writes; 0 = only count
	writes atomic.Int64
	dead   atomic.Bool
}

var errKilled = errors.New("the job was killed (simulated)")

func (c *crashTransport) plan(host string, after int64) *crashPlan {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := &crashPlan{after: after}
	c.plans[host] = p
	return p
}

func (c *crashTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	p := c.plans[req.URL.Host]
	c.mu.Unlock()
	if p == nil {
		return c.base.RoundTrip(req)
	}
	if p.dead.Load() {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errKilled
	}
	resp, err := c.base.RoundTrip(req)
	if err == nil && resp.StatusCode < 400 && req.Method != http.MethodGet && req.Method != http.MethodHead {
		if n := p.writes.Add(1); p.after > 0 && n >= p.after {
			p.dead.Store(true)
		}
	}
	return resp, err
}

// cosignKeyPair is one encrypted cosign key pair for the whole test binary (scrypt is slow).
var cosignKeyPair = sync.OnceValues(func() (*cosign.KeysBytes, error) {
	return cosign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte(keyPassword), nil })
})

// cosignKey is the private half of cosignKeyPair, as a cosign-key input takes it.
func cosignKey() ([]byte, error) {
	kb, err := cosignKeyPair()
	if err != nil {
		return nil, err
	}
	return kb.PrivateBytes, nil
}

const keyPassword = "fault-tests"

// keyVerifier verifies signatures made with cosignKey; made once, since loading the key is slow.
var keyVerifier = sync.OnceValues(func() (sign.Signer, error) {
	key, err := cosignKey()
	if err != nil {
		return nil, err
	}
	return sign.New(context.Background(), sign.Options{Mode: sign.ModeKey, Key: string(key), KeyPassword: keyPassword})
})

// faultEnv is a real registry behind the fault-injecting proxy, an apps repository and a cosign
// key: publishing signs with the key (no Sigstore servers needed) so signature uploads cross the
// proxy too, and every check verifies signatures.
type faultEnv struct {
	host, prefix string // the registry itself, and the repository prefix through the proxy
	path         string // the repository prefix in the registry: acme/<name>
	proxy        *testenv.Proxy
	repo         *testenv.GitRepo
	keyFile      string
	verifier     sign.Signer
	opts         []Option // for every publish: a crash transport
}

// newFaultEnv is a faultEnv on the registry host, publishing to acme/<name> through a proxy of
// its own: tests share one registry and keep apart by name.
func newFaultEnv(t testing.TB, host, name string, repo *testenv.GitRepo) *faultEnv {
	t.Helper()
	key, err := cosignKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := keyVerifier()
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, host)
	return &faultEnv{host: host, prefix: proxy.Host + "/acme/" + name, path: "acme/" + name, proxy: proxy, repo: repo, keyFile: keyFile, verifier: v}
}

// publish runs a key-signed publish of every component through the proxy.
func (f *faultEnv) publish(t testing.TB, extra ...string) (int, map[string]report.Result, string) {
	t.Helper()
	// Validation is not what these tests are about, and the slowest step of a run.
	args := append([]string{"publish", "--source", f.repo.Dir, "--repository", f.prefix, "--all", "--validate=false",
		"--sign", "key", "--cosign-key", f.keyFile, "--tlog-upload=false"}, extra...)
	return publishJSONWith(t, map[string]string{"COSIGN_PASSWORD": keyPassword}, f.opts, args...)
}

// checkRegistry reads the registry directly (not through the proxy): every tag of every
// component must name a manifest whose config and layers are all there (fetched, digests
// checked), signed once with the test key (a signature that verifies; no duplicates). It returns
// the tags by component.
func (f *faultEnv) checkRegistry(t testing.TB) map[string]map[string]string {
	t.Helper()
	repoPrefix := f.path
	ctx := context.Background()
	out := map[string]map[string]string{}
	for _, c := range appNames {
		repo := repoPrefix + "/" + c
		out[c] = map[string]string{}
		for _, tag := range testenv.Tags(t, f.host, repo) {
			if registry.IsAttachmentTag(tag) || tags.IsRecord(tag) {
				continue // signatures, and the tag engine's claims and promotion records
			}
			ref, err := name.NewTag(f.host+"/"+repo+":"+tag, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Get(ref)
			if err != nil {
				t.Errorf("%s: tag %s names no readable manifest: %v", repo, tag, err)
				continue
			}
			out[c][tag] = desc.Digest.String()
			m, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest)))
			if err != nil {
				t.Errorf("%s:%s: %v", repo, tag, err)
				continue
			}
			for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
				if err := blobIsComplete(f.host, repo, b); err != nil {
					t.Errorf("%s:%s → %s: %v", repo, tag, desc.Digest, err)
				}
			}
			if err := f.verifier.Verify(ctx, ref.Context().Digest(desc.Digest.String())); err != nil {
				t.Errorf("%s:%s → %s: the signature does not verify: %v", repo, tag, desc.Digest, err)
			}
			if n := signatureLayers(t, f.host, repo, desc.Digest.String()); n != 1 {
				t.Errorf("%s:%s → %s carries %d signatures, want 1", repo, tag, desc.Digest, n)
			}
		}
	}
	return out
}

// blobIsComplete GETs a blob and checks its size and digest.
func blobIsComplete(host, repo string, d v1.Descriptor) error {
	resp, err := http.Get("http://" + host + "/v2/" + repo + "/blobs/" + d.Digest.String())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("blob %s: %s", d.Digest, resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != d.Digest.String() || n != d.Size {
		return fmt.Errorf("blob %s: got %d bytes with digest %s, want %d", d.Digest, n, got, d.Size)
	}
	return nil
}

// faultTally counts what the tests injected, for the closing log line.
type faultTally struct {
	mu    sync.Mutex
	kinds map[string]int
}

func (ft *faultTally) add(kind string, n int) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.kinds == nil {
		ft.kinds = map[string]int{}
	}
	ft.kinds[kind] += n
}

func (ft *faultTally) String() string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	total := 0
	var parts []string
	for k, n := range ft.kinds {
		total += n
		parts = append(parts, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d faults injected (%s)", total, strings.Join(parts, " "))
}

func faultKind(f *testenv.Fault) string {
	switch {
	case f.Reset:
		return "reset"
	case f.Status != 0:
		return fmt.Sprint(f.Status)
	}
	return "slow"
}

func retryAfter(v string) http.Header { return http.Header{"Retry-After": {v}} }

func re(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// Request paths of the registry API, as the proxy sees them.
const (
	pathBlobStart    = `/blobs/uploads/$`                // POST: start an upload
	pathBlobUpload   = `/blobs/uploads/.+`               // PUT: the data, committed
	pathManifestByID = `/manifests/sha256:[0-9a-f]{64}$` // the artifact pushed by digest
	pathSignature    = `/manifests/sha256-[0-9a-f]{64}\.sig$`
	pathTagList      = `/tags/list$`
	pathPing         = `^/v2/$`
)

// TestPublishThroughTransientFaults: a transient failure of each stage of a publish (blob upload,
// manifest, signature, tag list, a read) is retried away end to end: the publish succeeds, every
// injected fault was hit, and the registry holds complete, signed artifacts under every tag. The
// retry policy itself, every status and header, is the registry package's to test.
func TestPublishThroughTransientFaults(t *testing.T) {
	t.Parallel()
	host, repo := testenv.Registry(t), releasedApps(t)
	tally := &faultTally{}
	t.Cleanup(func() { t.Log(tally) })
	soon := func() string { return time.Now().Add(time.Second).UTC().Format(http.TimeFormat) }
	tests := []struct {
		name    string
		release bool // publish frontend/v1.0.0 rather than the main branch
		faults  func() []*testenv.Fault
	}{
		{"blob upload start 503 with Retry-After seconds", false, func() []*testenv.Fault {
			return []*testenv.Fault{{Method: "POST", Path: re(pathBlobStart), Status: 503, Header: retryAfter("1"), Times: 2}}
		}},
		{"blob data PUT reset", false, func() []*testenv.Fault {
			return []*testenv.Fault{{Method: "PUT", Path: re(pathBlobUpload), Reset: true, Times: 3}}
		}},
		{"manifest PUT 429 with Retry-After date", false, func() []*testenv.Fault {
			return []*testenv.Fault{{Method: "PUT", Path: re(pathManifestByID), Status: 429, Header: retryAfter(soon()), Times: 1}}
		}},
		{"signature PUT 500 and reset", false, func() []*testenv.Fault {
			return []*testenv.Fault{
				{Method: "PUT", Path: re(pathSignature), Status: 500, Times: 2},
				{Method: "PUT", Path: re(pathSignature), Reset: true, Times: 2},
			}
		}},
		{"manifest GET 503", false, func() []*testenv.Fault {
			return []*testenv.Fault{{Method: "GET", Path: re(`/manifests/`), Status: 503, Times: 4}}
		}},
		{"release: tag list 429 and reset", true, func() []*testenv.Fault {
			return []*testenv.Fault{
				{Method: "GET", Path: re(pathTagList), Status: 429, Header: retryAfter("0"), Times: 2},
				{Method: "GET", Path: re(pathTagList), Reset: true, Times: 2},
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFaultEnv(t, host, fmt.Sprintf("transient-%d", i), repo)
			var extra []string
			if tt.release {
				extra = []string{"--ref", "refs/tags/frontend/v1.0.0"}
			}
			faults := tt.faults()
			for _, fault := range faults {
				f.proxy.Inject(fault)
			}
			start := time.Now()
			code, rs, stderr := f.publish(t, extra...)
			took := time.Since(start)
			f.proxy.Total() // takes the proxy's lock: the Hits below are the final counts
			mustCode(t, code, 0, stderr)
			for _, fault := range faults {
				if fault.Hits() != fault.Times {
					t.Errorf("fault %s %v %s hit %d times, want %d: the publish did not cross it", fault.Method, fault.Path, faultKind(fault), fault.Hits(), fault.Times)
				}
				tally.add(faultKind(fault), fault.Hits())
			}
			for c, r := range rs {
				if r.Status != report.Pushed || r.Signed != "new" || !r.Verified {
					t.Errorf("%s: status %s signed %q verified %v, want pushed, newly signed and verified", c, r.Status, r.Signed, r.Verified)
				}
			}
			tags := f.checkRegistry(t)
			if tt.release {
				if tags["frontend"]["v1.0.0"] == "" || tags["frontend"]["v1.0.0"] != tags["frontend"]["latest-stable"] {
					t.Errorf("frontend tags after the release: %v, want v1.0.0 and latest-stable on one digest", tags["frontend"])
				}
			} else {
				for _, c := range appNames {
					if len(tags[c]) != 2 || tags[c]["latest"] == "" || tags[c]["latest"] != rs[c].Digest {
						t.Errorf("%s tags: %v, want main-<sha> and latest at %s", c, tags[c], rs[c].Digest)
					}
				}
			}
			// Go's http.Transport itself retries an idempotent request (GET) whose reused
			// connection was closed before any answer, without telling anyone: a reset GET may
			// never reach the retry layer, so only other faults must show in the log.
			silent := faults[0].Reset && faults[0].Method == "GET"
			if strings.Count(stderr, "registry: ") == 0 && faults[0].Delay == 0 && !silent {
				t.Errorf("the log does not say what was retried:\n%s", stderr)
			}
			t.Logf("published through %d injected fault(s) in %s", len(faults), took.Round(time.Millisecond))
		})
	}
}

// TestPersistentFaultsAndCrashPoints: a fault that does not heal fails its component cleanly —
// a clear error, the other components finish, exit code 1 — and leaves the registry consistent
// (every tag on a complete, signed artifact). Each names a point where a run can die: after the
// blob uploads, after the manifest, between two tag moves. A re-run without the fault then
// converges: every tag in place, one signature per digest. Every interleaving of the tag writes
// is the tag engine's to test, in memory.
func TestPersistentFaultsAndCrashPoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		release   bool
		fault     testenv.Fault // Times is set to -1 (persistent)
		failed    string        // the component that fails
		wantErr   string        // in its error
		wantTries int           // how often the failing request was sent: 0 = not checked
		// after the failed run, the tags the failing component must (not) have
		wantTags, noTags []string
	}{
		{name: "crash after the blob uploads: manifest PUT 500", fault: testenv.Fault{Method: "PUT", Path: re(`/frontend` + pathManifestByID), Status: 500},
			failed: "frontend", wantErr: "500", wantTries: testRetry.Attempts, noTags: []string{"latest"}},
		{name: "crash after the manifest push: signature PUT 502", fault: testenv.Fault{Method: "PUT", Path: re(`/cache` + pathSignature), Status: 502},
			failed: "cache", wantErr: "502", wantTries: testRetry.Attempts, noTags: []string{"latest"}},
		// A build moving latest writes its main-<sha> tag right after latest (see tagger's
		// moveLatest: that order lets an overlapping older run find this one).
		{name: "crash between two tag moves: main-<sha> PUT 503", fault: testenv.Fault{Method: "PUT", Path: re(`/backend/manifests/main-`), Status: 503},
			failed: "backend", wantErr: "503", wantTries: testRetry.Attempts, wantTags: []string{"latest"}, noTags: []string{"main-"}},
		{name: "crash before the first tag move: latest PUT 503", fault: testenv.Fault{Method: "PUT", Path: re(`/frontend/manifests/latest$`), Status: 503},
			failed: "frontend", wantErr: "503", wantTries: testRetry.Attempts, noTags: []string{"latest", "main-"}},
		{name: "no write access: tag PUT 403 is not retried", fault: testenv.Fault{Method: "PUT", Path: re(`/cache/manifests/(latest|main-)`), Status: 403},
			failed: "cache", wantErr: "no write access", wantTries: 1, noTags: []string{"latest", "main-"}},
		{name: "release: crash between the version and latest-stable", release: true, fault: testenv.Fault{Method: "PUT", Path: re(`/frontend/manifests/latest-stable$`), Status: 500},
			failed: "frontend", wantErr: "500", wantTries: testRetry.Attempts, wantTags: []string{"v1.0.0"}, noTags: []string{"latest-stable"}},
	}
	host, repo := testenv.Registry(t), releasedApps(t)
	var injected atomic.Int64
	t.Cleanup(func() { t.Logf("%d persistent faults injected over %d crash points", injected.Load(), len(tests)) })
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFaultEnv(t, host, fmt.Sprintf("persistent-%d", i), repo)
			var extra []string
			if tt.release {
				extra = []string{"--ref", "refs/tags/frontend/v1.0.0"}
			}
			fault := tt.fault
			fault.Times = -1
			f.proxy.Inject(&fault)
			code, rs, stderr := f.publish(t, extra...)
			f.proxy.Total() // takes the proxy's lock: Hits is final
			injected.Add(int64(fault.Hits()))
			mustCode(t, code, ExitFailed, stderr)
			for c, r := range rs {
				switch {
				case c == tt.failed:
					if r.Status != report.Failed || !strings.Contains(r.Error, tt.wantErr) {
						t.Errorf("%s: status %s error %q, want failed naming %q", c, r.Status, r.Error, tt.wantErr)
					}
				case r.Status != report.Pushed:
					t.Errorf("%s: status %s (%s), want pushed: a fault in %s stopped it", c, r.Status, r.Error, tt.failed)
				}
			}
			t.Logf("%s failed after %d tries: %s", tt.failed, fault.Hits(), rs[tt.failed].Error)
			if tt.wantTries > 0 && fault.Hits() != tt.wantTries {
				t.Errorf("the failing request was sent %d times, want %d", fault.Hits(), tt.wantTries)
			}
			if tt.wantTries == testRetry.Attempts && !strings.Contains(stderr, fmt.Sprintf("giving up after %d attempts", testRetry.Attempts)) {
				t.Errorf("the log does not say it gave up:\n%s", stderr)
			}
			tags := f.checkRegistry(t)
			for _, w := range tt.wantTags {
				if !hasTagPrefix(tags[tt.failed], w) {
					t.Errorf("%s after the failed run: tags %v, want %s*", tt.failed, tags[tt.failed], w)
				}
			}
			for _, w := range tt.noTags {
				if hasTagPrefix(tags[tt.failed], w) {
					t.Errorf("%s after the failed run: tags %v, want no %s", tt.failed, tags[tt.failed], w)
				}
			}

			// The re-run, without the fault, finishes the job.
			f.proxy.Clear()
			code, rs2, stderr := f.publish(t, extra...)
			mustCode(t, code, ExitOK, stderr)
			tags = f.checkRegistry(t)
			for c, r := range rs2 {
				if c != tt.failed {
					if r.Status != report.Unchanged || r.Digest != rs[c].Digest {
						t.Errorf("re-run %s: %s %s, want unchanged %s", c, r.Status, r.Digest, rs[c].Digest)
					}
					continue
				}
				want := []string{"main-", "latest"}
				if tt.release {
					want = []string{"v1.0.0", "latest-stable"}
				}
				for _, w := range want {
					if !hasTagPrefix(tags[c], w) {
						t.Errorf("re-run %s: tags %v, want %s*", c, tags[c], w)
					}
				}
				for tag, d := range tags[c] {
					if d != r.Digest {
						t.Errorf("re-run %s: %s → %s, want %s", c, tag, d, r.Digest)
					}
				}
				if r.Signed == "" || !r.Verified {
					t.Errorf("re-run %s: signed %q verified %v", c, r.Signed, r.Verified)
				}
			}
		})
	}
}

// releasedApps is the apps repository with frontend/v1.0.0 tagged at its commit: the checkout
// every case of a fault test publishes from (only reads), from main or as the release.
func releasedApps(t *testing.T) *testenv.GitRepo {
	repo := apps(t)
	repo.Git("tag", "frontend/v1.0.0")
	return repo
}

func hasTagPrefix(tags map[string]string, prefix string) bool {
	for tag := range tags {
		if strings.HasPrefix(tag, prefix) {
			return true
		}
	}
	return false
}

// TestKillBeforeTheTags kills a real publish right after its signature is written, before any tag:
// the registry must be consistent at that point (no tag on anything unsigned or incomplete), and
// a re-run converges on exactly what an uninterrupted run publishes, with one signature per
// digest. Killing the run at every write is the tag engine's in-memory test; this is the proof
// that the pieces fit.
func TestKillBeforeTheTags(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	repo := apps(t)
	args := []string{"--components", "frontend"}

	// A clean run, counted: how many writes, and the digests to converge on.
	ref := newFaultEnv(t, host, "ref", repo)
	crashes := newCrashTransport()
	ref.opts = []Option{WithRegistryOptions(registry.WithTransport(crashes))}
	plan := crashes.plan(ref.proxy.Host, 0)
	code, want, stderr := ref.publish(t, args...)
	mustCode(t, code, ExitOK, stderr)
	// The last two writes are the tags main-<sha> and latest: stop right before them.
	kill := plan.writes.Load() - 2

	f := newFaultEnv(t, host, "killed", repo)
	f.opts = []Option{WithRegistryOptions(registry.WithTransport(crashes))}
	crashes.plan(f.proxy.Host, kill)
	code, _, stderr = f.publish(t, args...)
	if code == ExitOK {
		t.Fatalf("the killed run succeeded:\n%s", stderr)
	}
	if tags := f.checkRegistry(t); len(tags["frontend"]) != 0 {
		t.Errorf("the run killed before its tags left tags %v", tags["frontend"])
	}

	again := testenv.NewProxy(t, host) // a new job: nothing killed
	f.prefix = again.Host + "/acme/killed"
	code, got, stderr := f.publish(t, args...)
	mustCode(t, code, ExitOK, stderr)
	tags := f.checkRegistry(t)
	r := got["frontend"]
	if r.Digest != want["frontend"].Digest || r.Plan == nil || r.Plan.Action != report.ActionFinish {
		t.Errorf("re-run: digest %s plan %+v, want %s finished (the digest was there, untagged)", r.Digest, r.Plan, want["frontend"].Digest)
	}
	for _, w := range []string{"main-", "latest"} {
		if !hasTagPrefix(tags["frontend"], w) {
			t.Errorf("re-run tags %v, want %s*", tags["frontend"], w)
		}
	}
}
