package testenv

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OIDCIssuer stands in for GitHub Actions' token service: an OIDC issuer on loopback that
// serves discovery and JWKS (what Fulcio reads) and, like ACTIONS_ID_TOKEN_REQUEST_URL, hands
// out signed JWTs with GitHub's workflow claims to a caller holding a request token.
//
// It is the only fake of the signing tests: Fulcio, Rekor, the registry and the verifier are the
// real programs. Tests share one issuer and tell their jobs apart by grants (see Grant).
type OIDCIssuer struct {
	// URL is the issuer URL (http://127.0.0.1:PORT), as Fulcio's configuration names it.
	URL string

	key    *rsa.PrivateKey
	kid    string
	srv    *http.Server
	mu     sync.Mutex
	grants map[string]*Grant
	seq    atomic.Int64
}

// Grant is one job's view of the token service: the values of ACTIONS_ID_TOKEN_REQUEST_URL and
// ACTIONS_ID_TOKEN_REQUEST_TOKEN, the claims its tokens carry, and a count of tokens issued.
type Grant struct {
	RequestURL   string
	RequestToken string
	Claims       map[string]any
	requests     atomic.Int64
}

// Requests is the number of tokens issued for this grant.
func (g *Grant) Requests() int64 { return g.requests.Load() }

// NewOIDCIssuer starts an issuer on 127.0.0.1 and a free port. Close stops it.
func NewOIDCIssuer() (*OIDCIssuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := &OIDCIssuer{
		URL:    "http://" + ln.Addr().String(),
		key:    key,
		kid:    "fleetpush-test",
		grants: map[string]*Grant{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", o.discovery)
	mux.HandleFunc("GET /.well-known/jwks", o.jwks)
	mux.HandleFunc("GET /token", o.token)
	o.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go o.srv.Serve(ln) //nolint:errcheck // ends with Close
	return o, nil
}

// Close stops the issuer.
func (o *OIDCIssuer) Close() error { return o.srv.Close() }

// Grant registers a job whose tokens carry claims (see GitHubClaims); "aud", "iss", "iat",
// "nbf" and "exp" are filled in per token.
func (o *OIDCIssuer) Grant(claims map[string]any) *Grant {
	n := o.seq.Add(1)
	g := &Grant{
		RequestURL:   fmt.Sprintf("%s/token?api-version=2.0&job=%d", o.URL, n),
		RequestToken: fmt.Sprintf("request-token-%d-%x", n, randBytes(8)),
		Claims:       claims,
	}
	o.mu.Lock()
	o.grants[g.RequestToken] = g
	o.mu.Unlock()
	return g
}

// GitHubClaims are the claims of a GitHub Actions token for a workflow run of repository
// (owner/repo) from workflowFile (e.g. release.yaml) at ref (e.g. refs/tags/frontend/v1.2.3).
// Fulcio's github-workflow issuer type requires every one of them.
func GitHubClaims(repository, workflowFile, ref string) map[string]any {
	owner, _, _ := strings.Cut(repository, "/")
	workflowRef := repository + "/.github/workflows/" + workflowFile + "@" + ref
	sha := "0123456789abcdef0123456789abcdef01234567"
	event := "push"
	return map[string]any{
		"sub":                   "repo:" + repository + ":ref:" + ref,
		"ref":                   ref,
		"sha":                   sha,
		"repository":            repository,
		"repository_id":         "123456",
		"repository_owner":      owner,
		"repository_owner_id":   "654321",
		"repository_visibility": "public",
		"run_id":                "1000",
		"run_number":            "7",
		"run_attempt":           "1",
		"runner_environment":    "github-hosted",
		"actor":                 owner,
		"actor_id":              "654321",
		"workflow":              "release",
		"workflow_ref":          workflowRef,
		"workflow_sha":          sha,
		"job_workflow_ref":      workflowRef,
		"job_workflow_sha":      sha,
		"event_name":            event,
		"ref_type":              map[bool]string{true: "tag", false: "branch"}[strings.HasPrefix(ref, "refs/tags/")],
	}
}

func (o *OIDCIssuer) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                o.URL,
		"jwks_uri":                              o.URL + "/.well-known/jwks",
		"subject_types_supported":               []string{"public", "pairwise"},
		"response_types_supported":              []string{"id_token"},
		"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_owner", "run_id", "run_attempt", "sha", "workflow", "event_name", "job_workflow_ref"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid"},
	})
}

func (o *OIDCIssuer) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := o.key.PublicKey
	writeJSON(w, map[string]any{"keys": []any{map[string]any{
		"kty": "RSA",
		"alg": "RS256",
		"use": "sig",
		"kid": o.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// token answers like GitHub's endpoint: `Authorization: bearer <request token>` and an optional
// `audience` query parameter.
func (o *OIDCIssuer) token(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(auth, " ")
	o.mu.Lock()
	g := o.grants[tok]
	o.mu.Unlock()
	if !strings.EqualFold(scheme, "bearer") || g == nil {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		aud = "https://github.com/" + fmt.Sprint(g.Claims["repository_owner"])
	}
	now := time.Now()
	claims := map[string]any{}
	for k, v := range g.Claims {
		claims[k] = v
	}
	claims["iss"] = o.URL
	claims["aud"] = aud
	claims["iat"] = now.Unix()
	claims["nbf"] = now.Add(-time.Minute).Unix()
	claims["exp"] = now.Add(10 * time.Minute).Unix()
	claims["jti"] = fmt.Sprintf("%x", randBytes(16))
	jwt, err := o.sign(claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	g.requests.Add(1)
	writeJSON(w, map[string]any{"count": 1, "value": jwt})
}

func (o *OIDCIssuer) sign(claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": o.kid})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(body)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, o.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client sees a short body
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails on Linux
	return b
}
