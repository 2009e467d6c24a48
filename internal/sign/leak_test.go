package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// secrets records every credential that crosses a transport: the token-service credential and
// the OIDC tokens, from the Authorization headers sent and the token service's answers.
type secrets struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen map[string]bool
}

func (s *secrets) add(v string) {
	if len(v) < 8 { // nothing that short is a credential, and it would match by chance
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[v] = true
	// A JWT's parts could leak on their own; its signature is unique to it.
	if parts := strings.Split(v, "."); len(parts) == 3 {
		s.seen[parts[2]] = true
	}
}

func (s *secrets) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, cred, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok {
		s.add(cred)
	}
	resp, err := s.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(req.URL.Path, "/token") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var tr struct{ Value string }
	if json.Unmarshal(body, &tr) == nil {
		s.add(tr.Value)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (s *secrets) list() (all []string, jwts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for v := range s.seen {
		all = append(all, v)
		if strings.Count(v, ".") == 2 {
			jwts++
		}
	}
	return all, jwts
}

// leaks returns a piece of secret that out holds, or "": the whole, or any 20 characters of it,
// so that a clipped quote of a token counts too.
func leaks(out, secret string) string {
	const window = 20
	if len(secret) <= window {
		if strings.Contains(out, secret) {
			return secret
		}
		return ""
	}
	for i := 0; i+window <= len(secret); i++ {
		if piece := secret[i : i+window]; strings.Contains(out, piece) {
			return piece
		}
	}
	return ""
}

// echo is a hostile or buggy server that puts the Authorization header it was sent into its
// answer's body and headers.
func echo(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Echo", auth)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":"refused credentials %s"}`, auth)
	}
}

func echoServer(t *testing.T, status int) string {
	srv := httptest.NewServer(echo(status))
	t.Cleanup(srv.Close)
	return srv.URL
}

// closedURL is an http URL that refuses every connection while the test runs.
func closedURL(t *testing.T) string {
	return "http://" + testenv.RefusingAddr(t)
}

// TestNoSecretInFailures: however keyless signing fails, neither the error nor any log line of
// the signer and its retrying transport holds ACTIONS_ID_TOKEN_REQUEST_TOKEN or the OIDC token,
// even when a server echoes them back.
func TestNoSecretInFailures(t *testing.T) {
	host := testenv.Registry(t)
	tests := []struct {
		name string
		ref  string // the workflow run's ref, retryRef when empty
		edit func(t *testing.T, f *front, o *Options)
		// jwt: a token is issued before the failure, so the check covers it.
		jwt  bool
		want string
	}{
		{
			name: "token service answers 403 and echoes the request token",
			edit: func(t *testing.T, _ *front, o *Options) {
				o.TokenRequestURL = echoServer(t, http.StatusForbidden) + "/token?api-version=2.0"
			},
			want: "403 Forbidden",
		},
		{
			name: "token service answers 503 and echoes the request token, past the retries",
			edit: func(t *testing.T, _ *front, o *Options) {
				o.TokenRequestURL = echoServer(t, http.StatusServiceUnavailable) + "/token?api-version=2.0"
			},
			want: "503 Service Unavailable",
		},
		{
			name: "token service unreachable",
			edit: func(t *testing.T, _ *front, o *Options) { o.TokenRequestURL = closedURL(t) + "/token?api-version=2.0" },
			want: "connection refused",
		},
		{
			name: "Fulcio unreachable",
			edit: func(t *testing.T, _ *front, o *Options) { o.FulcioURL = closedURL(t) },
			jwt:  true, want: "connection refused",
		},
		{
			name: "Fulcio drops every connection",
			edit: func(_ *testing.T, f *front, _ *Options) {
				f.fulcio.Inject(&testenv.Fault{Method: http.MethodPost, Path: fulcioPath, Reset: true, Times: -1})
			},
			jwt: true, want: "EOF",
		},
		{
			name: "Fulcio answers 401 and echoes the token",
			edit: func(t *testing.T, _ *front, o *Options) { o.FulcioURL = echoServer(t, http.StatusUnauthorized) },
			jwt:  true, want: "Fulcio answered 401 Unauthorized",
		},
		{
			name: "Fulcio answers 503 and echoes the token, past the retries",
			edit: func(t *testing.T, _ *front, o *Options) { o.FulcioURL = echoServer(t, http.StatusServiceUnavailable) },
			jwt:  true, want: "Fulcio answered 503 Service Unavailable",
		},
		{
			name: "wrong identity",
			ref:  "refs/heads/feature",
			jwt:  true, want: "does not match the expected subject",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ref := tt.ref
			if ref == "" {
				ref = retryRef
			}
			f := newFront(t, ref)
			o := f.options(0)
			rec := &secrets{base: http.DefaultTransport}
			o.Transport = registry.NewRetryTransport(rec, testPolicy(3), f.log.logf)
			if tt.edit != nil {
				tt.edit(t, f, &o)
			}
			rec.add(o.TokenRequestToken)
			s := f.signer(t, o)
			d := pushImages(t, host, "acme/leak/"+repoName(t), 1)

			_, err := s.Sign(context.Background(), d[0])
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Sign() = %v, want an error containing %q", err, tt.want)
			}
			all, jwts := rec.list()
			if tt.jwt && jwts == 0 {
				t.Fatal("no OIDC token was issued: the test checks nothing")
			}
			outputs := map[string]string{
				"error":         err.Error(),
				"error (%+v)":   fmt.Sprintf("%+v", err),
				"error (%#v)":   fmt.Sprintf("%#v", err),
				"log":           f.log.String(),
				"kept error":    fmt.Sprint(s.credErr),
				"snippet":       s.Snippet(),
				"second Sign()": fmt.Sprint(s.Sign(context.Background(), d[0])),
			}
			for what, out := range outputs {
				for _, secret := range all {
					if leaked := leaks(out, secret); leaked != "" {
						t.Errorf("the %s holds part of a secret (%d characters): %s", what, len(secret), strings.ReplaceAll(out, leaked, "<SECRET>"))
					}
				}
			}
		})
	}
}
