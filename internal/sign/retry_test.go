package sign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// The retry tests put fault-injecting proxies in front of the real token-service stand-in,
// Fulcio and Rekor, and hand the signer the retrying transport the app hands it (the registry
// package's, with short waits).

const (
	retryRepo     = "acme/d2-apps"
	retryWorkflow = "release.yaml"
	retryRef      = "refs/tags/frontend/v1.2.3"
)

var (
	tokenPath  = regexp.MustCompile(`^/token$`)
	fulcioPath = regexp.MustCompile(`^/api/v1/signingCert$`)
	rekorPath  = regexp.MustCompile(`^/api/v1/log/entries$`)
)

// testPolicy retries quickly: the tests count tries, not seconds.
func testPolicy(attempts int) registry.RetryPolicy {
	return registry.RetryPolicy{Attempts: attempts, Base: 20 * time.Millisecond, Max: 2 * time.Second, Total: 30 * time.Second, AttemptTimeout: 20 * time.Second}
}

// lines collects what a signer and its transport log.
type lines struct {
	t  testing.TB
	mu sync.Mutex
	l  []string
}

func (l *lines) logf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	l.t.Log(s)
	l.mu.Lock()
	l.l = append(l.l, s)
	l.mu.Unlock()
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}

// front is the test Sigstore seen through proxies, with a fresh grant of the token service.
type front struct {
	env                  *testenv.SigstoreEnv
	token, fulcio, rekor *testenv.Proxy
	grant                *testenv.Grant // the job's real grant, for its token count
	log                  *lines
}

func newFront(t *testing.T, ref string) *front {
	t.Helper()
	env := testenv.Sigstore(t)
	hostOf := func(u string) string { return strings.TrimPrefix(u, "http://") }
	f := &front{
		env:    env,
		token:  testenv.NewProxy(t, hostOf(env.OIDC.URL)),
		fulcio: testenv.NewProxy(t, hostOf(env.FulcioURL)),
		rekor:  testenv.NewProxy(t, hostOf(env.RekorURL)),
		grant:  env.OIDC.Grant(testenv.GitHubClaims(retryRepo, retryWorkflow, ref)),
		log:    &lines{t: t},
	}
	return f
}

// options are a keyless signer's options through the proxies; transport nil means the retrying
// transport with attempts tries, a negative attempts none at all.
func (f *front) options(attempts int) Options {
	id := ExpectedIdentity("https://github.com", retryRepo, retryRepo+"/.github/workflows/"+retryWorkflow+"@"+retryRef, retryRef, "frontend")
	id.Issuer = "^" + regexp.QuoteMeta(f.env.OIDC.URL) + "$"
	o := Options{
		Mode:              ModeKeyless,
		FulcioURL:         "http://" + f.fulcio.Host,
		RekorURL:          "http://" + f.rekor.Host,
		FulcioRoot:        f.env.FulcioRootFile,
		RekorPublicKey:    f.env.RekorPublicKeyFile,
		TLogUpload:        true,
		TokenRequestURL:   strings.Replace(f.grant.RequestURL, strings.TrimPrefix(f.env.OIDC.URL, "http://"), f.token.Host, 1),
		TokenRequestToken: f.grant.RequestToken,
		Expected:          id,
		Logf:              f.log.logf,
	}
	if attempts > 0 {
		o.Transport = registry.NewRetryTransport(http.DefaultTransport, testPolicy(attempts), f.log.logf)
	}
	return o
}

func (f *front) signer(t *testing.T, o Options) *cosignSigner {
	t.Helper()
	s, err := newCosignSigner(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pushImages pushes n small random images to the registry at host and returns their digests.
func pushImages(t testing.TB, host, repo string, n int) []name.Digest {
	t.Helper()
	out := make([]name.Digest, n)
	for i := range out {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(fmt.Sprintf("%s/%s/c%02d:tmp", host, repo, i))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		h, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = ref.Context().Digest(h.String())
	}
	return out
}

// repoName is a repository name for the test: its name, lower-case, in dashes.
func repoName(t testing.TB) string {
	return strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
}

// signConcurrently signs digests at once, as the publish workers do.
func signConcurrently(ctx context.Context, s Signer, digests []name.Digest) ([]Result, []error) {
	results := make([]Result, len(digests))
	errs := make([]error, len(digests))
	var wg sync.WaitGroup
	for i, d := range digests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Sign(ctx, d)
		}()
	}
	wg.Wait()
	return results, errs
}

// TestKeylessRidesOutTransientFaults: 50 components signed concurrently while the token service,
// Fulcio and Rekor each fail the first requests with 503, 429 + Retry-After, 502 and dropped
// connections: every component is signed and verifies, with one token and one certificate,
// and the log says what was retried and why.
func TestKeylessRidesOutTransientFaults(t *testing.T) {
	f := newFront(t, retryRef)
	host := testenv.Registry(t)
	ctx := context.Background()
	digests := pushImages(t, host, retryRepo+"/faults", 50)

	faults := []struct {
		p *testenv.Proxy
		f *testenv.Fault
	}{
		{f.token, &testenv.Fault{Method: http.MethodGet, Path: tokenPath, Status: http.StatusServiceUnavailable, Times: 2}},
		{f.fulcio, &testenv.Fault{Method: http.MethodPost, Path: fulcioPath, Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}, Times: 1}},
		{f.fulcio, &testenv.Fault{Method: http.MethodPost, Path: fulcioPath, Status: http.StatusServiceUnavailable, Times: 1}},
		{f.fulcio, &testenv.Fault{Method: http.MethodPost, Path: fulcioPath, Reset: true, Times: 1}},
		{f.rekor, &testenv.Fault{Method: http.MethodPost, Path: rekorPath, Status: http.StatusBadGateway, Times: 2}},
		{f.rekor, &testenv.Fault{Method: http.MethodPost, Path: rekorPath, Reset: true, Times: 1}},
	}
	injected := 0
	for _, x := range faults {
		x.p.Inject(x.f)
		injected += x.f.Times
	}
	certsBefore, err := f.env.FulcioCertificates()
	if err != nil {
		t.Fatal(err)
	}

	s := f.signer(t, f.options(6))
	start := time.Now()
	results, errs := signConcurrently(ctx, s, digests)
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Sign through transient faults: %v", err)
	}
	for i, r := range results {
		if r.Status != StatusNew || r.RekorLogIndex < 0 {
			t.Errorf("result %d = %+v, want new with a log index", i, r)
		}
		if err := s.Verify(ctx, digests[i]); err != nil {
			t.Errorf("Verify(%s): %v", digests[i], err)
		}
	}

	hits := 0
	for _, x := range faults {
		if x.f.Hits() != x.f.Times {
			t.Errorf("fault %+v hit %d times, want %d", *x.f, x.f.Hits(), x.f.Times)
		}
		hits += x.f.Hits()
	}
	certsAfter, err := f.env.FulcioCertificates()
	if err != nil {
		t.Fatal(err)
	}
	if n := f.grant.Requests(); n != 1 {
		t.Errorf("tokens issued = %d, want 1", n)
	}
	if n := certsAfter - certsBefore; n != 1 {
		t.Errorf("certificates issued = %d, want 1", n)
	}
	if elapsed < time.Second {
		t.Errorf("signing took %s: the 429's Retry-After of 1s was not honoured", elapsed)
	}
	log := f.log.String()
	for _, want := range []string{
		"GET " + f.token.Host + "/token: 503 Service Unavailable; retrying in",
		"POST " + f.fulcio.Host + "/api/v1/signingCert: 429 Too Many Requests; retrying in 1s as Retry-After asks",
		"POST " + f.fulcio.Host + "/api/v1/signingCert: 503 Service Unavailable; retrying in",
		"POST " + f.fulcio.Host + "/api/v1/signingCert: connection closed before the answer (EOF); retrying in",
		"POST " + f.rekor.Host + "/api/v1/log/entries: 502 Bad Gateway; retrying in",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q", want)
		}
	}
	t.Logf("figures: %d components, %d faults injected and ridden out, %d token requests, %d Fulcio requests, %d Rekor requests, %s",
		len(digests), hits, f.token.Total(), f.fulcio.Total(), f.rekor.Total(), elapsed.Round(time.Millisecond))
	if hits != injected {
		t.Errorf("faults hit = %d, want %d", hits, injected)
	}
}

// TestKeylessCredentialFailures: how long a failed credential is kept. A failure that may heal is
// shared by the callers of its attempt and kept for the cooldown, then tried again; one that
// cannot heal is kept for the run; a caller's cancelled context is not kept at all.
func TestKeylessCredentialFailures(t *testing.T) {
	host := testenv.Registry(t)
	tests := []struct {
		name     string
		ref      string // the workflow run's ref, retryRef when empty
		attempts int    // tries of the retrying transport; 0: no transport
		fault    func(f *front) (*testenv.Proxy, *testenv.Fault)
		// fulcioTries and tokens are the requests the first Sign makes to Fulcio and the tokens
		// it is issued.
		fulcioTries int
		tokens      int64
		transient   bool
		// healed: once the cooldown has passed, a Sign tries again and succeeds.
		healed bool
		want   string
	}{
		{
			name:  "one 503 without retries is tried again after the cooldown",
			fault: fulcioFault(http.StatusServiceUnavailable, 1), fulcioTries: 1, tokens: 1,
			transient: true, healed: true, want: "Fulcio answered 503 Service Unavailable",
		},
		{
			name: "a 503 that outlasts the retries is kept for the cooldown", attempts: 3,
			fault: fulcioFault(http.StatusServiceUnavailable, 3), fulcioTries: 3, tokens: 1,
			transient: true, healed: true, want: "Fulcio answered 503 Service Unavailable",
		},
		{
			name: "dropped connections that outlast the retries are kept for the cooldown", attempts: 2,
			fault: func(f *front) (*testenv.Proxy, *testenv.Fault) {
				return f.fulcio, &testenv.Fault{Method: http.MethodPost, Path: fulcioPath, Reset: true, Times: 2}
			},
			fulcioTries: 2, tokens: 1, transient: true, healed: true, want: "EOF",
		},
		{
			name: "a 400 from Fulcio is kept for the run", attempts: 3,
			fault: fulcioFault(http.StatusBadRequest, 1), fulcioTries: 1, tokens: 1,
			want: "Fulcio answered 400 Bad Request",
		},
		{
			name: "a 403 from the token service is kept for the run", attempts: 3,
			fault: func(f *front) (*testenv.Proxy, *testenv.Fault) {
				return f.token, &testenv.Fault{Path: tokenPath, Status: http.StatusForbidden, Times: 1}
			},
			want: "id-token: write",
		},
		{
			name: "a certificate for another identity is kept for the run", attempts: 3, ref: "refs/heads/feature",
			fulcioTries: 1, tokens: 1, want: "does not match the expected subject",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ref := tt.ref
			if ref == "" {
				ref = retryRef
			}
			f := newFront(t, ref)
			var fault *testenv.Fault
			if tt.fault != nil {
				var p *testenv.Proxy
				p, fault = tt.fault(f)
				p.Inject(fault)
			}
			s := f.signer(t, f.options(tt.attempts))
			s.cooling = time.Hour
			d := pushImages(t, host, "acme/credfail/"+repoName(t), 2)

			_, err := s.Sign(ctx, d[0])
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Sign() = %v, want an error containing %q", err, tt.want)
			}
			if got := isTransient(err); got != tt.transient {
				t.Errorf("transient = %v, want %v (%v)", got, tt.transient, err)
			}
			if n := f.fulcio.Count(http.MethodPost, "other"); n != tt.fulcioTries {
				t.Errorf("Fulcio requests = %d, want %d", n, tt.fulcioTries)
			}
			if n := f.grant.Requests(); n != tt.tokens {
				t.Errorf("tokens issued = %d, want %d", n, tt.tokens)
			}

			// Within the cooldown (and for good, when it cannot heal) the failure is answered
			// from the cache: no request goes out.
			before := f.token.Total() + f.fulcio.Total()
			_, again := s.Sign(ctx, d[1])
			if again == nil || again.Error() != err.Error() {
				t.Errorf("second Sign() = %v, want the kept %v", again, err)
			}
			if n := f.token.Total() + f.fulcio.Total(); n != before {
				t.Errorf("second Sign made %d requests, want none", n-before)
			}

			// The fault is spent: after the cooldown only what can heal heals.
			s.cooling = 0
			_, third := s.Sign(ctx, d[1])
			switch {
			case tt.healed && third != nil:
				t.Errorf("Sign after the cooldown = %v, want success", third)
			case !tt.healed && (third == nil || third.Error() != err.Error()):
				t.Errorf("Sign after the cooldown = %v, want the kept %v", third, err)
			case !tt.healed && f.token.Total()+f.fulcio.Total() != before:
				t.Errorf("a failure that cannot heal was tried again")
			}
			if fault != nil && fault.Hits() != fault.Times {
				t.Errorf("fault hit %d times, want %d", fault.Hits(), fault.Times)
			}
		})
	}

	t.Run("a cancelled caller's failure is not kept", func(t *testing.T) {
		t.Parallel()
		f := newFront(t, retryRef)
		f.fulcio.Inject(&testenv.Fault{Method: http.MethodPost, Path: fulcioPath, Delay: 2 * time.Second, Times: 1})
		s := f.signer(t, f.options(3))
		s.cooling = time.Hour
		d := pushImages(t, host, "acme/credfail/cancelled", 2)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if _, err := s.Sign(ctx, d[0]); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Sign() = %v, want the caller's deadline", err)
		}
		if _, err := s.Sign(context.Background(), d[1]); err != nil {
			t.Errorf("Sign after a cancelled one = %v, want success", err)
		}
	})

	t.Run("waiters give up with their context", func(t *testing.T) {
		t.Parallel()
		f := newFront(t, retryRef)
		f.fulcio.Inject(&testenv.Fault{Method: http.MethodPost, Path: fulcioPath, Delay: 3 * time.Second, Times: 1})
		s := f.signer(t, f.options(3))
		d := pushImages(t, host, "acme/credfail/waiters", 2)
		first := make(chan error, 1)
		go func() { _, err := s.Sign(context.Background(), d[0]); first <- err }()
		for f.fulcio.Total() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := s.Sign(ctx, d[1]); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiting Sign() = %v, want its deadline", err)
		}
		if waited := time.Since(start); waited > 2*time.Second {
			t.Errorf("a waiter whose context ended waited %s for the credential", waited)
		}
		if err := <-first; err != nil {
			t.Errorf("first Sign() = %v", err)
		}
	})
}

func fulcioFault(status, times int) func(f *front) (*testenv.Proxy, *testenv.Fault) {
	return func(f *front) (*testenv.Proxy, *testenv.Fault) {
		return f.fulcio, &testenv.Fault{Method: http.MethodPost, Path: fulcioPath, Status: status, Times: times}
	}
}

// TestRekorRetriesDoNotMultiply: the Rekor client makes one request per try of the transport:
// its own retry layer is gone, with or without a retrying transport.
func TestRekorRetriesDoNotMultiply(t *testing.T) {
	host := testenv.Registry(t)
	for _, attempts := range []int{0, 3} {
		t.Run(fmt.Sprintf("%d attempts", attempts), func(t *testing.T) {
			t.Parallel()
			f := newFront(t, retryRef)
			f.rekor.Inject(&testenv.Fault{Method: http.MethodPost, Path: rekorPath, Status: http.StatusServiceUnavailable, Times: -1})
			// One format, one log entry: the formats' entries are written side by side and
			// would add their own tries.
			o := f.options(attempts)
			o.SignatureFormat = FormatLegacy
			s := f.signer(t, o)
			d := pushImages(t, host, fmt.Sprintf("acme/rekorfail/a%d", attempts), 1)
			_, err := s.Sign(context.Background(), d[0])
			if err == nil || !strings.Contains(err.Error(), "Rekor") {
				t.Fatalf("Sign() = %v, want a Rekor error", err)
			}
			want := max(attempts, 1)
			if n := f.rekor.Count(http.MethodPost, "other"); n != want {
				t.Errorf("Rekor entry POSTs = %d, want %d", n, want)
			}
		})
	}
}
