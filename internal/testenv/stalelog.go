package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// StaleLog sits on loopback in front of a real Rekor v1 and, for the uploads a test picks,
// answers with an entry the log made earlier for another upload of the same kind: a genuine
// entry, whose signed entry timestamp and inclusion proof verify against the log's key, that
// records another signature. It is what a buggy log, or a caching or hostile proxy in front of
// one, does; every other request reaches the log.
type StaleLog struct {
	// URL is the log's address through the proxy, for rekor-url.
	URL string

	upstream string
	mu       sync.Mutex
	last     map[string]recorded // the last answer to an upload, by entry kind
	pick     func(kind string, proposed []byte) bool
	conflict bool
	answered int
}

// recorded is the log's answer to one upload.
type recorded struct {
	uuid string
	body []byte
}

// NewStaleLog starts a StaleLog in front of the Rekor at upstream (its base URL), stopped at test
// cleanup. It answers every upload truthfully until Answer arms it.
func NewStaleLog(t testing.TB, upstream string) *StaleLog {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &StaleLog{URL: "http://" + l.Addr().String(), upstream: strings.TrimSuffix(upstream, "/"), last: map[string]recorded{}}
	srv := &http.Server{Handler: http.HandlerFunc(s.serve)}
	go srv.Serve(l) //nolint:errcheck // ends at Close
	t.Cleanup(func() { srv.Close() })
	return s
}

// Answer arms the log: from now on, each upload for which pick (given the entry kind,
// "hashedrekord" or "dsse", and the proposed entry as sent) says true is answered with the last
// entry of that kind the log made before, when there is one. With conflict, the answer is
// Rekor's "409 Conflict: the entry exists" pointing at that entry, which a client then fetches
// from the log itself; else a plain "201 Created" with it. A nil pick disarms.
func (s *StaleLog) Answer(pick func(kind string, proposed []byte) bool, conflict bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pick, s.conflict = pick, conflict
}

// Answered is how many uploads got an earlier entry.
func (s *StaleLog) Answered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answered
}

// EveryUpload picks every upload.
func EveryUpload(string, []byte) bool { return true }

func (s *StaleLog) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	upload := r.Method == http.MethodPost && r.URL.Path == "/api/v1/log/entries"
	kind := ""
	if upload {
		var pe struct{ Kind string }
		_ = json.Unmarshal(body, &pe)
		kind = pe.Kind
		s.mu.Lock()
		old, ok := s.last[kind]
		stale := ok && s.pick != nil && s.pick(kind, body)
		conflict := s.conflict
		if stale {
			s.answered++
		}
		s.mu.Unlock()
		if stale {
			location := "/api/v1/log/entries/" + old.uuid
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Location", location)
			if conflict {
				w.WriteHeader(http.StatusConflict)
				fmt.Fprintf(w, `{"code":409,"message":"an equivalent entry already exists in the transparency log with UUID %s"}`, old.uuid)
				return
			}
			w.Header().Set("ETag", old.uuid)
			w.WriteHeader(http.StatusCreated)
			w.Write(old.body) //nolint:errcheck // the client sees a short answer
			return
		}
	}

	req, err := http.NewRequestWithContext(r.Context(), r.Method, s.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if upload && resp.StatusCode == http.StatusCreated {
		var entries map[string]json.RawMessage
		if json.Unmarshal(answer, &entries) == nil && len(entries) == 1 {
			for uuid := range entries {
				s.mu.Lock()
				s.last[kind] = recorded{uuid: uuid, body: answer}
				s.mu.Unlock()
			}
		}
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer) //nolint:errcheck // the client sees a short answer
}
