package report

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLogMasksAndRedacts(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewLog(&buf, true, func(string) string { return "" })
	l.Mask("hunter2-secret")
	l.Printf("login with %s failed", "hunter2-secret")
	l.Error("a.yaml", 3, "token hunter2-secret refused")
	out := buf.String()
	if got := strings.Count(out, "hunter2-secret"); got != 1 || !strings.Contains(out, "::add-mask::hunter2-secret\n") {
		t.Errorf("the secret appears %d times; want only in the ::add-mask:: command:\n%s", got, out)
	}
	if !strings.Contains(out, "::error file=a.yaml,line=3::token *** refused") {
		t.Errorf("missing the redacted annotation:\n%s", out)
	}
	if got, want := l.Redact("x hunter2-secret y"), "x *** y"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

// TestLogConcurrent writes from many goroutines at once: every line and group stays whole (and
// the race detector, which CI runs on this package, sees no shared write).
func TestLogConcurrent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewLog(&buf, true, func(string) string { return "" })
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Group("c", []string{"one", "two"})
			l.Notice("n%d", i)
			l.Error("", 0, "e")
			l.Printf("p")
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for i, line := range lines {
		if line == "::group::c" && (i+3 >= len(lines) || lines[i+1] != "one" || lines[i+2] != "two" || lines[i+3] != "::endgroup::") {
			t.Fatalf("a group was interleaved at line %d:\n%s", i, buf.String())
		}
	}
	if got, want := strings.Count(buf.String(), "::group::c\n"), 20; got != want {
		t.Errorf("%d groups, want %d", got, want)
	}
}

func TestSetOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "output")
	env := map[string]string{"GITHUB_OUTPUT": out}
	l := NewLog(&bytes.Buffer{}, true, func(k string) string { return env[k] })
	value := "line one\nghadelimiter_\nEOF\nline four"
	if _, err := l.SetOutputs(map[string]string{"result": value, "skipped": "x"}, []string{"result"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	name, delim, ok := strings.Cut(lines[0], "<<")
	if !ok || name != "result" || !strings.HasPrefix(delim, "ghadelimiter_") || len(delim) < 20 {
		t.Fatalf("first line %q, want result<<ghadelimiter_<random>", lines[0])
	}
	if got := strings.Join(lines[1:len(lines)-1], "\n"); got != value || lines[len(lines)-1] != delim {
		t.Errorf("value %q closed by %q, want %q closed by %q", got, lines[len(lines)-1], value, delim)
	}

	// Outside Actions (no GITHUB_OUTPUT, no GITHUB_STEP_SUMMARY): nothing happens, nothing fails.
	plain := NewLog(&bytes.Buffer{}, false, func(string) string { return "" })
	if _, err := plain.SetOutputs(map[string]string{"a": "b"}, []string{"a"}); err != nil {
		t.Errorf("SetOutputs without GITHUB_OUTPUT = %v", err)
	}
	doc := NewSummary(plain.SummaryBudget())
	doc.Add("x")
	if err := plain.Summary(doc); err != nil {
		t.Errorf("Summary without GITHUB_STEP_SUMMARY = %v", err)
	}
}

// The reported leak: a registry echoing the Basic header, and a docker-config password in an
// error, were printed as they came.
func TestMaskCredentialRedactsEncodedForms(t *testing.T) {
	t.Parallel()
	const user, pass = "robot$ci", "s3cr3t-P@ss/w0rd+"
	pair := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	var buf bytes.Buffer
	l := NewLog(&buf, true, func(string) string { return "" })
	l.MaskCredential(user, pass)
	adds := buf.String()
	for _, want := range []string{"::add-mask::" + pass + "\n", "::add-mask::" + pair + "\n"} {
		if !strings.Contains(adds, want) {
			t.Errorf("no %q among the masks:\n%s", want, adds)
		}
	}
	buf.Reset()

	leaks := []string{
		"GET /v2/: 401 Unauthorized: request had Authorization: Basic " + pair,
		"echo: Basic " + strings.TrimRight(pair, "="),
		"url-safe: " + base64.URLEncoding.EncodeToString([]byte(user+":"+pass)),
		`{"auths":{"r.example":{"auth":"` + pair + `","password":"` + pass + `"}}}`,
		"query: password=" + url.QueryEscape(pass),
		// The password's own base64 inside a longer base64 text, at each offset.
		"blob: " + base64.StdEncoding.EncodeToString([]byte("x"+pass+"y")),
		"blob: " + base64.StdEncoding.EncodeToString([]byte("xx"+pass+"yy")),
		"blob: " + base64.StdEncoding.EncodeToString([]byte("xxx"+pass)),
	}
	for _, leak := range leaks {
		l.Printf("%s", leak)
		l.Error("", 0, leak)
	}
	out := buf.String()
	for _, secret := range []string{pass, pair, strings.TrimRight(pair, "="), url.QueryEscape(pass)} {
		if strings.Contains(out, secret) {
			t.Errorf("%q reached the log:\n%s", secret, out)
		}
	}
	// No base64 run of the log decodes to text holding the password.
	for _, word := range strings.FieldsFunc(out, func(r rune) bool { return !strings.ContainsRune(b64chars, r) }) {
		for shift := 0; shift < 4 && shift < len(word); shift++ {
			w := strings.TrimRight(word[shift:], "=")
			dec, _ := base64.StdEncoding.DecodeString(w[:len(w)/4*4])
			if bytes.Contains(dec, []byte(pass)) {
				t.Errorf("%q in the log decodes to the password", word)
			}
		}
	}
	if got := l.Redact("Basic " + pair); got != "Basic ***" {
		t.Errorf("Redact = %q, want Basic ***", got)
	}
}

const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_"

// Short secrets are redacted themselves, but their short encoded fragments are not masked: they
// would blank harmless text.
func TestMaskShortSecret(t *testing.T) {
	t.Parallel()
	l := NewLog(&bytes.Buffer{}, false, func(string) string { return "" })
	l.Mask("abc")
	// YWJj, its base64, is too short to mask.
	if got := l.Redact("x abc y YWJj"); got != "x *** y YWJj" {
		t.Errorf("Redact = %q", got)
	}
	for _, s := range l.secrets {
		if s != "abc" && len(s) < minEncoded {
			t.Errorf("%q is masked: shorter than %d", s, minEncoded)
		}
	}
	n := len(l.secrets)
	l.MaskCredential("user", " ")
	if len(l.secrets) != n {
		t.Errorf("an empty password added masks: %q", l.secrets)
	}
}
