package testenv

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"
)

// TestOIDCIssuer checks the stand-in answers as GitHub's token service does: discovery naming
// itself, a JWKS that verifies its tokens, tokens only for a known request token, with the
// requested audience and the grant's claims.
func TestOIDCIssuer(t *testing.T) {
	t.Parallel()
	o, err := NewOIDCIssuer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	g := o.Grant(GitHubClaims("acme/app", "release.yaml", "refs/tags/v1.0.0"))

	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, o.URL+"/.well-known/openid-configuration", "", http.StatusOK, &disc)
	if disc.Issuer != o.URL || !strings.HasPrefix(disc.JWKSURI, o.URL) {
		t.Errorf("discovery = %+v, want issuer %s", disc, o.URL)
	}

	getJSON(t, g.RequestURL+"&audience=sigstore", "bearer nope", http.StatusUnauthorized, nil)
	getJSON(t, g.RequestURL+"&audience=sigstore", "", http.StatusUnauthorized, nil)
	if n := g.Requests(); n != 0 {
		t.Errorf("Requests() = %d after refused requests, want 0", n)
	}

	var tok struct{ Value string }
	getJSON(t, g.RequestURL+"&audience=sigstore", "bearer "+g.RequestToken, http.StatusOK, &tok)
	if n := g.Requests(); n != 1 {
		t.Errorf("Requests() = %d, want 1", n)
	}
	parts := strings.Split(tok.Value, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok.Value)
	}
	var claims map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"iss":              o.URL,
		"aud":              "sigstore",
		"sub":              "repo:acme/app:ref:refs/tags/v1.0.0",
		"job_workflow_ref": "acme/app/.github/workflows/release.yaml@refs/tags/v1.0.0",
		"ref_type":         "tag",
	} {
		if got := claims[k]; got != want {
			t.Errorf("claim %s = %v, want %q", k, got, want)
		}
	}

	var jwks struct {
		Keys []struct{ N, E string }
	}
	getJSON(t, disc.JWKSURI, "", http.StatusOK, &jwks)
	if len(jwks.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(jwks.Keys))
	}
	n, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].N)
	e, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("token does not verify with the JWKS: %v", err)
	}
}

func getJSON(t *testing.T, url, auth string, wantStatus int, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: %s, want %d", url, resp.Status, wantStatus)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
}
