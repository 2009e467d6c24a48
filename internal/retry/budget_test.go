package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// endless writes bytes until the client goes away, counting what it wrote.
func endless(written *atomic.Int64, contentLength int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentLength >= 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(contentLength, 10))
		}
		chunk := make([]byte, 32<<10)
		for {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
}

// TestAnswerLimit: a capped request refuses an answer whose Content-Length is past the cap
// without reading it, cuts one of unknown length (a body that never ends) right past the cap,
// whether it is read whole by the transport or streamed to the caller, and does not retry
// either: the same server answers the same again.
func TestAnswerLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		contentLength int64
		limit         int64
		readLimit     int64
		wantSize      string
	}{
		{"announced past the cap", 100 << 30, 4 << 20, 0, "the answer is 107374182400 bytes, more than the 4194304"},
		{"endless, read whole", -1, 1 << 20, 0, "runs past the 1048576 bytes"},
		{"endless, streamed past ReadLimit", -1, 8 << 20, 1 << 20, "runs past the 8388608 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var written atomic.Int64
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				endless(&written, tc.contentLength)(w, r)
			}))
			defer srv.Close()
			b := NewBudget(64 << 20)
			tr := NewTransport(nil, Policy{Attempts: 3, ReadLimit: tc.readLimit}, WithBudget(b))
			req, _ := http.NewRequestWithContext(WithAnswerLimit(context.Background(), tc.limit), http.MethodGet, srv.URL+"/v2/a/manifests/x", nil)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			var tl *TooLargeError
			if !errors.As(err, &tl) || !strings.Contains(err.Error(), tc.wantSize) || !strings.Contains(err.Error(), "GET 127.0.0.1") {
				t.Fatalf("err = %v, want a TooLargeError saying %q", err, tc.wantSize)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1: a too large answer is not retried", n)
			}
			if b.Held() != 0 {
				t.Errorf("the budget holds %d bytes after the answer ended", b.Held())
			}
		})
	}
}

// TestBudgetBoundsAnswersInFlight: many concurrent requests whose answers are each as large as
// the transport reads whole never hold more than the budget at once; each waits for room, all
// finish, and the room comes back when a body is read to its end or closed.
func TestBudgetBoundsAnswersInFlight(t *testing.T) {
	t.Parallel()
	const answer = 1 << 20
	body := strings.Repeat("m", answer)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(answer))
		}
		io.WriteString(w, body)
	}))
	defer srv.Close()
	b := NewBudget(4 * answer)
	tr := NewTransport(nil, Policy{ReadLimit: answer}, WithBudget(b))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := srv.URL + "/x"
			if i%2 == 1 {
				url += "?chunked=1"
			}
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			if i%3 == 0 {
				resp.Body.Close() // read to the end and closed
			} // else only read to the end: the room comes back at EOF too
			if err != nil || n != answer {
				errs <- fmt.Errorf("read %d bytes, %v", n, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if b.Peak() > b.Total() || b.Peak() < answer {
		t.Errorf("peak held %d bytes, budget %d", b.Peak(), b.Total())
	}
	if b.Held() != 0 {
		t.Errorf("the budget holds %d bytes after every answer ended", b.Held())
	}
}

// TestBudgetWaitIsCancellable: a request waiting for room gives up with its context.
func TestBudgetWaitIsCancellable(t *testing.T) {
	t.Parallel()
	b := NewBudget(10)
	if _, err := b.acquire(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.acquire(ctx, 1); err == nil || !strings.Contains(err.Error(), "memory budget") {
		t.Fatalf("acquire on a full budget with a cancelled context = %v", err)
	}
	if got, _ := b.acquire(context.Background(), 0); got != 0 {
		t.Errorf("an empty answer took %d bytes", got)
	}
	b.release(10)
	if got, err := b.acquire(context.Background(), 1<<40); err != nil || got != 10 {
		t.Errorf("an answer larger than the budget took %d, %v; want the whole budget", got, err)
	}
}
