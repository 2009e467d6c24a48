package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Binary returns the path of a test tool, or fails (CI) / skips (elsewhere) the test when it is
// not installed.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if p := lookup(name); p != "" {
		return p
	}
	install := "bash hack/tools.sh"
	if name == "flux" {
		install += " flux" // built from source, on request only
	}
	msg := fmt.Sprintf("%s is not installed: run `%s` (it installs the test servers into $FLEETPUSH_TOOLS/bin)", name, install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func lookup(name string) string {
	dir := os.Getenv("FLEETPUSH_TOOLS")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "fleetpush", "tools")
		}
	}
	if dir != "" {
		p := filepath.Join(dir, "bin", name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Registry starts a CNCF distribution registry on 127.0.0.1 with its storage in a temporary
// folder and returns its host:port. It is stopped when the test ends.
func Registry(t testing.TB) string {
	t.Helper()
	return startRegistry(t, "", "")
}

// RegistryWithAuth is Registry with htpasswd basic auth for one user.
func RegistryWithAuth(t testing.TB, user, password string) string {
	t.Helper()
	return startRegistry(t, user, password)
}

// RegistryInMemory is Registry with distribution's in-memory storage driver: the same server
// code path minus the disk, for benchmarks that measure the client rather than the disk of a
// shared machine.
func RegistryInMemory(t testing.TB) string {
	t.Helper()
	return startRegistryWith(t, "", "", true)
}

func startRegistry(t testing.TB, user, password string) string {
	t.Helper()
	return startRegistryWith(t, user, password, false)
}

func startRegistryWith(t testing.TB, user, password string, inMemory bool) string {
	t.Helper()
	bin := Binary(t, "registry")
	dir := t.TempDir()
	auth := ""
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: test\n    path: %s\n", htpasswd)
	}
	for attempt := 0; ; attempt++ {
		port := FreePort(t)
		debug := FreePort(t)
		host := fmt.Sprintf("127.0.0.1:%d", port)
		cfg := filepath.Join(dir, "config.yml")
		storage := "  filesystem:\n    rootdirectory: " + filepath.Join(dir, "data")
		if inMemory {
			storage = "  inmemory: {}"
		}
		// Deletes are enabled so tests can simulate a half-finished earlier run.
		config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
%s
  delete:
    enabled: true
http:
  addr: %s
  debug:
    addr: 127.0.0.1:%d
%s`, storage, host, debug, auth)
		if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		var logs strings.Builder
		cmd := exec.Command(bin, "serve", cfg)
		cmd.Stdout = &logs
		cmd.Stderr = &logs
		cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting registry: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		if waitHTTP("http://"+host+"/v2/", done, 15*time.Second) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-done
			})
			return host
		}
		_ = cmd.Process.Kill()
		<-done
		if attempt == 2 {
			t.Fatalf("registry on %s did not come up:\n%s", host, logs.String())
		}
	}
}

// waitHTTP polls url until it answers (any status) or the process exits or the timeout passes.
func waitHTTP(url string, exited <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
