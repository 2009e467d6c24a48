package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// sigstoreAudience is the audience Fulcio's GitHub issuer configuration expects.
const sigstoreAudience = "sigstore"

// idTokenHelp ends every error about a missing token: the fix is in the workflow file. A
// permissions block sets every permission it omits to none, so it lists all a publish needs.
const idTokenHelp = `the job needs permission to request an OIDC token; add to the workflow (or the job):

permissions:
  contents: read   # check out the repository
  packages: write  # push to ghcr.io
  id-token: write  # keyless signing

or sign with a key (sign: key) or not at all (sign: none)`

// requestIDToken asks the GitHub Actions token service for an OIDC token for audience
// sigstore, as actions/toolkit's getIDToken does.
func requestIDToken(ctx context.Context, client *http.Client, requestURL, requestToken string) (string, error) {
	if requestURL == "" || requestToken == "" {
		return "", fmt.Errorf("%w: ACTIONS_ID_TOKEN_REQUEST_URL or ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set: %s", ErrNoIDToken, idTokenHelp)
	}
	u, err := url.Parse(requestURL)
	if err != nil {
		return "", fmt.Errorf("parsing ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
	}
	q := u.Query()
	q.Set("audience", sigstoreAudience)
	u.RawQuery = q.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("requesting an OIDC token: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+requestToken)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("requesting an OIDC token from %s: %w", u.Host, requestError(err))
	}
	defer resp.Body.Close()
	body, err := readAnswer(resp.Body, "the OIDC token response")
	if err != nil {
		return "", err
	}
	// The body is never quoted: it is the token, or an answer to a request that carried the
	// request token.
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", fmt.Errorf("%w: the token service answered %s: %s", ErrNoIDToken, resp.Status, idTokenHelp)
	case healable(resp.StatusCode):
		return "", fmt.Errorf("requesting an OIDC token: %w", transient(fmt.Errorf("the token service answered %s", resp.Status)))
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("requesting an OIDC token: the token service answered %s", resp.Status)
	}
	var tr struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.Value == "" {
		return "", fmt.Errorf("requesting an OIDC token: the response holds no token")
	}
	return tr.Value, nil
}

// tokenSubject reads the `sub` claim of a JWT without checking its signature: Fulcio checks the
// token; the subject is only what the proof of key possession signs.
func tokenSubject(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("the OIDC token is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("decoding the OIDC token claims: %w", err)
	}
	var claims struct {
		Subject string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return "", fmt.Errorf("decoding the OIDC token claims: %w", err)
	}
	if claims.Subject == "" {
		return "", fmt.Errorf("the OIDC token has no sub claim")
	}
	return claims.Subject, nil
}
