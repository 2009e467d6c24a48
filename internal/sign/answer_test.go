package sign

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/retry"
)

// TestReadAnswer: an answer of a service is read whole up to its limit; a longer one is an
// error that cannot heal (never cut short and then misread), as is a transport's TooLargeError;
// a read that broke off can heal.
func TestReadAnswer(t *testing.T) {
	t.Parallel()
	if b, err := readAnswer(strings.NewReader("ok"), "x"); err != nil || string(b) != "ok" {
		t.Fatalf("readAnswer(ok) = %q, %v", b, err)
	}
	full := strings.Repeat("a", answerLimit)
	if b, err := readAnswer(strings.NewReader(full), "x"); err != nil || len(b) != answerLimit {
		t.Fatalf("readAnswer at the limit = %d bytes, %v", len(b), err)
	}
	for _, tc := range []struct {
		name      string
		r         io.Reader
		transient bool
	}{
		{"one byte over", strings.NewReader(full + "a"), false},
		{"the transport's cap", io.MultiReader(strings.NewReader("a"), errReader{&retry.TooLargeError{What: "GET f/x", Limit: 1, Size: -1}}), false},
		{"broken off", io.MultiReader(strings.NewReader("a"), errReader{io.ErrUnexpectedEOF}), true},
	} {
		_, err := readAnswer(tc.r, "Fulcio's answer")
		if err == nil || !strings.Contains(err.Error(), "reading Fulcio's answer") || isTransient(err) != tc.transient {
			t.Errorf("%s: %v (transient %v), want an error, transient %v", tc.name, err, isTransient(err), tc.transient)
		}
	}
	var tl *retry.TooLargeError
	if _, err := readAnswer(errReader{&retry.TooLargeError{}}, "x"); !errors.As(err, &tl) {
		t.Errorf("the transport's TooLargeError is not kept: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
