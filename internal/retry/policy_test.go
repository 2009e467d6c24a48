package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestBackoffJitter: waits stay within the exponential bound and the cap, and are spread out.
func TestBackoffJitter(t *testing.T) {
	t.Parallel()
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	for attempt := 1; attempt <= 8; attempt++ {
		bound := min(100*time.Millisecond<<(attempt-1), time.Second)
		seen := map[time.Duration]bool{}
		for range 200 {
			w := p.Backoff(attempt)
			if w < 0 || w > bound {
				t.Fatalf("attempt %d: wait %s outside [0, %s]", attempt, w, bound)
			}
			seen[w] = true
		}
		if len(seen) < 50 {
			t.Errorf("attempt %d: only %d distinct waits in 200: not jittered", attempt, len(seen))
		}
	}
	if w := p.Backoff(1000); w > time.Second {
		t.Errorf("a very late attempt waits %s, over the cap", w)
	}
}

func TestHealable(t *testing.T) {
	t.Parallel()
	for code := 100; code < 600; code++ {
		want := code == 408 || code == 429 || code == 500 || code == 502 || code == 503 || code == 504
		if got := Healable(code); got != want {
			t.Errorf("Healable(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestTransient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true},
		{&net.OpError{Op: "read", Err: errSyscall("connection reset by peer")}, true},
		{errors.New("net/http: HTTP/1.x transport connection broken: write: broken pipe"), true},
		{&DeadlineError{What: "GET x", Window: time.Second}, true},
		{fmt.Errorf("reading the answer: %w", &DeadlineError{Answered: true}), true},
		{&net.DNSError{Err: "timeout", IsTimeout: true}, true},
		{&net.DNSError{Err: "no such host", IsNotFound: true}, false},
		{errors.New("x509: certificate signed by unknown authority"), false},
		{context.Canceled, false},
		{errors.New("tls: first record does not look like a TLS handshake"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := Transient(tt.err) != ""; got != tt.want {
			t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

type errSyscall string

func (e errSyscall) Error() string { return string(e) }

func TestRetryAfterParse(t *testing.T) {
	t.Parallel()
	now := epoch
	type res struct {
		D  time.Duration
		OK bool
	}
	got := map[string]res{}
	inputs := []string{"", "1", " 2 ", "0", "-1", "1.5", "abc", now.Add(90 * time.Second).Format(http.TimeFormat), now.Add(-time.Hour).Format(http.TimeFormat), now.Add(72 * time.Hour).Format(http.TimeFormat), "99999999999"}
	for _, v := range inputs {
		d, ok := RetryAfter(v, now)
		got[v] = res{d, ok}
	}
	want := map[string]res{
		"": {}, "1": {time.Second, true}, " 2 ": {2 * time.Second, true}, "0": {0, true}, "-1": {}, "1.5": {}, "abc": {},
		now.Add(90 * time.Second).Format(http.TimeFormat): {90 * time.Second, true},
		now.Add(-time.Hour).Format(http.TimeFormat):       {0, true},
		now.Add(72 * time.Hour).Format(http.TimeFormat):   {24 * time.Hour, true},
		"99999999999": {24 * time.Hour, true},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("RetryAfter (-want +got):\n%s", d)
	}
}

func TestPolicyDefaults(t *testing.T) {
	t.Parallel()
	if d := cmp.Diff(DefaultPolicy(), Policy{}.WithDefaults()); d != "" {
		t.Errorf("zero policy with defaults (-want +got):\n%s", d)
	}
	p := Policy{Attempts: 2, AttemptTimeout: time.Second}.WithDefaults()
	if p.Attempts != 2 || p.AttemptTimeout != time.Second || p.Base != defaultBase {
		t.Errorf("WithDefaults overwrote a set field or missed a zero one: %+v", p)
	}
}
