package sign

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fulcioapi "github.com/sigstore/fulcio/pkg/api"
	"github.com/sigstore/rekor/pkg/generated/client/pubkey"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/retry"
)

// TestTransportStalledAnswer: a Fulcio or Rekor that sends its headers and then a body a byte at
// a time does not hold the run: the try's deadline covers the body, the try is retried within
// the policy, and the error says what happened and what to do. The deadline is small and real;
// the trickle would take hours.
func TestTransportStalledAnswer(t *testing.T) {
	t.Parallel()
	var tries atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		w.Header().Set("Content-Type", "application/pem-certificate-chain")
		w.WriteHeader(http.StatusCreated)
		for {
			if _, err := w.Write([]byte("-")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
	}))
	defer srv.Close()
	log := &lines{t: t}
	p := registry.RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond, AttemptTimeout: 200 * time.Millisecond}
	s := &cosignSigner{o: Options{Transport: registry.NewRetryTransport(http.DefaultTransport, p, log.logf)}}
	u, _ := url.Parse(srv.URL)

	t.Run("fulcio", func(t *testing.T) {
		_, err := signingCert(context.Background(), s.httpClient(), u, fulcioapi.CertificateRequest{}, "TOKEN")
		var de *retry.DeadlineError
		if !errors.As(err, &de) || !isTransient(err) {
			t.Fatalf("err = %v, want a transient DeadlineError", err)
		}
		for _, want := range []string{"signingCert", "200ms", "re-run"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		// Counted on the client's side: on a loaded machine the server may start handling a
		// try only after the client gave up on it.
		if !strings.Contains(log.String(), "signingCert: ") || !strings.Contains(log.String(), "giving up after 2 attempts") {
			t.Errorf("the log does not show the policy's 2 attempts:\n%s", log)
		}
	})
	t.Run("rekor", func(t *testing.T) {
		rc, err := newRekorClient(srv.URL, s.httpClient())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a backstop, never reached
		defer cancel()
		_, err = rc.Pubkey.GetPublicKey(pubkey.NewGetPublicKeyParamsWithContext(ctx))
		if err == nil || !strings.Contains(err.Error(), "200ms") || !strings.Contains(err.Error(), "re-run") {
			t.Fatalf("err = %v, want the deadline of the stalled answer", err)
		}
		if !strings.Contains(log.String(), "publicKey: ") {
			t.Errorf("the log does not show the Rekor request given up:\n%s", log)
		}
	})
}
