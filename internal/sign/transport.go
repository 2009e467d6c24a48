package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-openapi/runtime"
	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	fulcioapi "github.com/sigstore/fulcio/pkg/api"
	rekorgen "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/rekor/pkg/util"

	"github.com/fleetpush/fleetpush/internal/retry"
)

// httpTimeout is the deadline of each request to the token service, Fulcio and Rekor when
// Options leaves Transport nil: the whole exchange, the answer's body included, as every
// request of a run has (internal/retry).
const httpTimeout = 30 * time.Second

// transportTimeout bounds one call through Options.Transport, all its tries included. It is only
// a backstop: a retry transport bounds each try (body included) and the time spent over all of
// them (a minute by default, plus the last try), and this cuts off what slips through a
// transport that does not.
const transportTimeout = 5 * time.Minute

// httpClient is the client of every Sigstore and token-service request: over Options.Transport
// when given (the caller's retries, one policy and one log for the whole run), else over
// http.DefaultTransport with the same deadlines but one try. Retrying the two POSTs among them
// is safe: a second certificate for the same key is harmless (the run uses the one it receives),
// and Rekor answers an entry it already holds with 409 Conflict, which cosign resolves to that
// entry.
func (s *cosignSigner) httpClient() *http.Client {
	if s.o.Transport == nil {
		once := retry.NewTransport(http.DefaultTransport, retry.Policy{Attempts: 1, AttemptTimeout: httpTimeout})
		return &http.Client{Transport: once, Timeout: transportTimeout}
	}
	return &http.Client{Transport: s.o.Transport, Timeout: transportTimeout}
}

// newRekorClient returns the Rekor API client over client. It is rekor's GetRekorClient without
// the go-retryablehttp layer that GetRekorClient wraps around its own transport (three retries on
// any 5xx or network error, not configurable away from a transport of ours): with a retrying
// transport underneath, the two would multiply. Without one (Options.Transport nil) the Rekor
// client makes one try per request, as the token and Fulcio requests do.
func newRekorClient(rekorURL string, client *http.Client) (*rekorgen.Rekor, error) {
	u, err := url.Parse(rekorURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("want an http(s) URL")
	}
	if u.Path == "" {
		u.Path = rekorgen.DefaultBasePath
	}
	rt := httptransport.NewWithClient(u.Host, u.Path, []string{u.Scheme}, client)
	rt.Consumers["application/json"] = runtime.JSONConsumer()
	rt.Consumers["application/x-pem-file"] = runtime.TextConsumer()
	rt.Producers["application/json"] = runtime.JSONProducer()
	reg := strfmt.Default
	reg.Add("signedCheckpoint", &util.SignedNote{}, util.SignedCheckpointValidator)
	return rekorgen.New(rt, reg), nil
}

// fulcioSigningCertPath is Fulcio's legacy (v1) certificate endpoint, the one cosign's keyless
// flow and fulcio's own LegacyClient use.
const fulcioSigningCertPath = "api/v1/signingCert"

// signingCert asks Fulcio for a certificate for the key in cr, proving the identity with token.
// It is fulcio's LegacyClient.SigningCert with a context and over client: the library's client
// always uses http.DefaultTransport and cannot be cancelled.
func signingCert(ctx context.Context, client *http.Client, fulcio *url.URL, cr fulcioapi.CertificateRequest, token string) (*fulcioapi.CertificateResponse, error) {
	b, err := json.Marshal(cr)
	if err != nil {
		return nil, fmt.Errorf("encoding the certificate request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fulcio.JoinPath(fulcioSigningCertPath).String(), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, requestError(err)
	}
	defer resp.Body.Close()
	body, err := readAnswer(resp.Body, "Fulcio's answer")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusCreated {
		// Fulcio says why it refused (an unknown issuer, a claim missing): worth quoting, but
		// never with the token in it, should a server echo what it was sent.
		msg := strings.TrimSpace(strings.ReplaceAll(string(body), token, "[redacted]"))
		if len(msg) > 512 {
			msg = msg[:512] + "…"
		}
		err := fmt.Errorf("Fulcio answered %s: %q", resp.Status, msg)
		if healable(resp.StatusCode) {
			return nil, transient(err)
		}
		return nil, err
	}
	block, chain := pem.Decode(body)
	if block == nil {
		return nil, errors.New("the answer holds no PEM certificate")
	}
	return &fulcioapi.CertificateResponse{CertPEM: pem.EncodeToMemory(block), ChainPEM: chain}, nil
}

// healable reports whether an HTTP status may change on a later try: the run's one retry
// policy decides (internal/retry), so an answer the transport retried is also one the
// credential cache treats as passing.
func healable(status int) bool { return retry.Healable(status) }

// requestError is err of an http.Client call without the request URL that url.Error quotes
// (ACTIONS_ID_TOKEN_REQUEST_URL names the job; the host is in the caller's message), marked
// transient: the network may come back.
func requestError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return transient(err)
}

// transientError marks a failure that may heal by itself: an answer that healable accepts, or
// a network error. The credential cache keeps it only briefly (see credCooldown).
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func transient(err error) error { return &transientError{err} }

// answerLimit bounds the answers this package reads itself (an OIDC token, a Fulcio certificate
// chain): kilobytes, where a megabyte is already far too much.
const answerLimit = 1 << 20

// readAnswer reads an answer of up to answerLimit bytes; a longer one is an error, not cut short
// and then misread. A read that broke off can heal (transient); one too large cannot.
func readAnswer(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, answerLimit+1))
	var tl *retry.TooLargeError
	switch {
	case errors.As(err, &tl):
		return nil, fmt.Errorf("reading %s: %w", what, err)
	case err != nil:
		return nil, transient(fmt.Errorf("reading %s: %w", what, err))
	case len(b) > answerLimit:
		return nil, fmt.Errorf("reading %s: more than %d bytes, which no real one is: check the service's URL", what, answerLimit)
	}
	return b, nil
}

func isTransient(err error) bool {
	var te *transientError
	return errors.As(err, &te)
}
