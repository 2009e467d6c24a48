package testenv

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// MemRegistry serves go-containerregistry's in-memory registry on loopback, behind wrap when
// given (to count, delay or fail requests), and returns its host:port. It starts in
// microseconds and needs no installed tool: the registry of the fast tests, where a real
// distribution registry (Registry) is the proof that the pieces fit.
func MemRegistry(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
