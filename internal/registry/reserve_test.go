package registry

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestReservedUploadSessions: a blob written after Reserve costs its PUT alone, and a reserved
// session the registry no longer knows is replaced by a new one rather than failing the write.
func TestReservedUploadSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newRequestLog()
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	// The in-memory registry takes a PUT to any session; this one has expired.
	expiring := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/blobs/uploads/expired") {
			rw.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(rw, `{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown"}]}`)
			return
		}
		reg.ServeHTTP(rw, r)
	})
	_, rc, subject, _ := writerWorld(t, l.wrap(expiring))
	w := rc.blobs.(blobWriter)
	repo := subject.Context()
	st := w.c.stateOf(repo)
	write := func(data string) {
		t.Helper()
		h, size, err := v1.SHA256(bytes.NewReader([]byte(data)))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteBlob(ctx, repo, v1.Descriptor{Digest: h, Size: size}, []byte(data), true); err != nil {
			t.Fatal(err)
		}
	}
	ready := func(n int) {
		t.Helper()
		for len(st.sessions) < n {
			time.Sleep(time.Millisecond) // the reserving POSTs are on their way
		}
	}

	l.take()
	w.Reserve(ctx, repo, 1)
	ready(1)
	if got := l.take(); got["POST blob-upload"] != 1 {
		t.Fatalf("Reserve sent %v, want one POST", got)
	}
	write("first")
	if got := l.take(); got["POST blob-upload"] != 0 || got["PUT blob-upload"] != 1 {
		t.Errorf("a write with a reserved session sent %v, want its PUT alone", got)
	}

	// A session the registry does not know (expired): the write opens a new one.
	stale, _ := url.Parse("http://" + repo.RegistryStr() + "/v2/" + repo.RepositoryStr() + "/blobs/uploads/expired")
	st.mu.Lock()
	st.reserved++
	st.mu.Unlock()
	st.sessions <- stale
	write("second")
	if got := l.take(); got["POST blob-upload"] != 1 || got["PUT blob-upload"] != 2 {
		t.Errorf("a write with a stale session sent %v, want the failed PUT, a POST and a PUT", got)
	}
	// Without reserved sessions, a write opens its own.
	write("third")
	if got := l.take(); got["POST blob-upload"] != 1 || got["PUT blob-upload"] != 1 {
		t.Errorf("a write without a reserved session sent %v, want a POST and a PUT", got)
	}

	// Reservations past the room for them, made while earlier ones are still opening, are cut
	// to that room: every opened session has a place, and no opener waits for one.
	w.Reserve(ctx, repo, 60)
	w.Reserve(ctx, repo, 60)
	ready(cap(st.sessions))
	if got := l.take(); got["POST blob-upload"] != cap(st.sessions) {
		t.Errorf("two reservations of 60 sent %d POSTs, want %d (the room for sessions)", got["POST blob-upload"], cap(st.sessions))
	}
	write("fourth")
	if got := l.take(); got["POST blob-upload"] != 0 {
		t.Errorf("a write after the reservations sent %v, want its PUT alone", got)
	}
}
