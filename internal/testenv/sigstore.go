package testenv

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SigstoreEnv is a private Sigstore on loopback: the GitHub token-service stand-in, a real
// Fulcio (ephemeral CA, no CT log, so its certificates carry no SCT) trusting that issuer, and a
// real Rekor v1 transparency log over Trillian over MariaDB.
type SigstoreEnv struct {
	// OIDC is the token-service stand-in; Grant gives a job its ACTIONS_ID_TOKEN_REQUEST_*.
	OIDC *OIDCIssuer

	FulcioURL string
	// FulcioRoot is Fulcio's CA chain (PEM), FulcioRootFile the same in a file.
	FulcioRoot, FulcioRootFile string

	RekorURL string
	// RekorPublicKey is the log's public key (PEM), RekorPublicKeyFile the same in a file.
	RekorPublicKey, RekorPublicKeyFile string

	// TrustedRoot is the stack's Sigstore trusted_root.json (Fulcio's CA and Rekor's key, no
	// CT log), TrustedRootFile the same in a file: what cosign's --trusted-root and Flux's
	// trustedRootSecretRef take.
	TrustedRoot, TrustedRootFile string

	fulcioMetrics string
	dir           string
	procs         []*proc
}

// sigstoreTools are the programs the stack runs, installed by hack/tools.sh.
var sigstoreTools = []string{
	"fulcio", "rekor-server", "trillian_log_server", "trillian_log_signer",
	"mariadbd", "mariadb-install-db", "mariadb",
}

var (
	sigstoreOnce sync.Once
	sigstoreEnv  *SigstoreEnv
	sigstoreErr  error
)

// Sigstore returns the Sigstore stack of this test binary, starting it on first use (about ten
// seconds). It keeps running until StopSigstore, which the package's TestMain calls through
// Main; child processes also die with the test binary. Every test binary that calls it runs its
// own stack, on free ports.
func Sigstore(t testing.TB) *SigstoreEnv {
	t.Helper()
	for _, name := range sigstoreTools {
		Binary(t, name)
	}
	if _, err := trillianSchema(); err != nil {
		skipOrFail(t, err.Error())
	}
	sigstoreOnce.Do(func() {
		sigstoreEnv, sigstoreErr = startSigstore()
	})
	if sigstoreErr != nil {
		t.Fatalf("starting the Sigstore stack: %v", sigstoreErr)
	}
	return sigstoreEnv
}

// Main runs the tests of a package that uses Sigstore and stops the stack afterwards:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	StopSigstore()
	return code
}

// StopSigstore stops the stack Sigstore started, if any.
func StopSigstore() {
	if sigstoreEnv != nil {
		sigstoreEnv.stop()
	}
}

// FulcioCertificates is the number of certificates Fulcio has issued since it started, read
// from its metrics.
func (e *SigstoreEnv) FulcioCertificates() (int, error) {
	resp, err := http.Get(e.fulcioMetrics)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "fulcio_new_certs") {
			continue
		}
		f := strings.Fields(line)
		n, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("reading %q: %w", line, err)
		}
		total += int(n)
	}
	return total, sc.Err()
}

func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// trillianSchema finds Trillian's MySQL schema: next to the tools (hack/tools.sh copies it
// there), else in the module cache.
func trillianSchema() (string, error) {
	var candidates []string
	if bin := lookup("trillian_log_server"); bin != "" {
		candidates = append(candidates, filepath.Join(filepath.Dir(filepath.Dir(bin)), "share", "trillian", "storage.sql"))
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		candidates = append(candidates, filepath.Join(strings.TrimSpace(string(out)), "github.com", "google", "trillian@v1.7.3", "storage", "mysql", "schema", "storage.sql"))
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", errors.New("trillian's storage.sql is not installed: run `bash hack/tools.sh`")
}

func startSigstore() (env *SigstoreEnv, err error) {
	dir, err := os.MkdirTemp("", "fleetpush-sigstore-")
	if err != nil {
		return nil, err
	}
	env = &SigstoreEnv{dir: dir}
	defer func() {
		if err != nil {
			env.stop()
		}
	}()

	// The issuer first: Fulcio reads its discovery document when it starts.
	if env.OIDC, err = NewOIDCIssuer(); err != nil {
		return env, fmt.Errorf("starting the OIDC issuer: %w", err)
	}
	fulcioDone := make(chan error, 1)
	go func() { fulcioDone <- env.startFulcio() }()
	if err := env.startRekor(); err != nil {
		<-fulcioDone
		return env, err
	}
	if err := <-fulcioDone; err != nil {
		return env, err
	}
	root, err := trustedRoot(env.FulcioURL, env.FulcioRoot, env.RekorURL, env.RekorPublicKey)
	if err != nil {
		return env, fmt.Errorf("building the trusted root: %w", err)
	}
	env.TrustedRoot = string(root)
	env.TrustedRootFile = filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(env.TrustedRootFile, root, 0o600); err != nil {
		return env, err
	}
	return env, nil
}

// trustedRoot writes the Sigstore trusted_root.json (media type version 0.1) of a Fulcio whose
// CA chain is caPEM and a Rekor v1 whose key is rekorPEM. It is built from the standard library
// alone: this package does not import sigstore (internal/sign's depcheck test holds that line),
// and the cosign CLIs and sigstore-go that read it are the check that it is right.
func trustedRoot(fulcioURL, caPEM, rekorURL, rekorPEM string) ([]byte, error) {
	type raw struct {
		RawBytes []byte `json:"rawBytes"`
	}
	type validFor struct {
		Start string `json:"start"`
	}
	// The stack is younger than this; a start in the past accepts everything it signs.
	since := validFor{Start: "2020-01-01T00:00:00Z"}

	var chain, roots []raw
	var subject struct {
		Organization string `json:"organization,omitempty"`
		CommonName   string `json:"commonName,omitempty"`
	}
	for rest := []byte(caPEM); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("fulcio's CA: %w", err)
		}
		// Leaf to root: intermediates first, the self-signed root last.
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			roots = append(roots, raw{c.Raw})
			if len(c.Subject.Organization) > 0 {
				subject.Organization = c.Subject.Organization[0]
			}
			subject.CommonName = c.Subject.CommonName
		} else {
			chain = append(chain, raw{c.Raw})
		}
	}
	if len(roots) == 0 {
		return nil, errors.New("fulcio's CA chain has no root certificate")
	}
	b, _ := pem.Decode([]byte(rekorPEM))
	if b == nil {
		return nil, errors.New("rekor's public key is not PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("rekor's public key: %w", err)
	}
	var details string
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		details = map[string]string{"P-256": "PKIX_ECDSA_P256_SHA_256", "P-384": "PKIX_ECDSA_P384_SHA_384", "P-521": "PKIX_ECDSA_P521_SHA_512"}[k.Curve.Params().Name]
	case ed25519.PublicKey:
		details = "PKIX_ED25519"
	}
	if details == "" {
		return nil, fmt.Errorf("rekor's public key is a %T, which this trusted root does not describe", pub)
	}
	logID := sha256.Sum256(b.Bytes)

	type tlog struct {
		BaseURL       string `json:"baseUrl"`
		HashAlgorithm string `json:"hashAlgorithm"`
		PublicKey     struct {
			RawBytes   []byte   `json:"rawBytes"`
			KeyDetails string   `json:"keyDetails"`
			ValidFor   validFor `json:"validFor"`
		} `json:"publicKey"`
		LogID struct {
			KeyID []byte `json:"keyId"`
		} `json:"logId"`
	}
	var log tlog
	log.BaseURL = rekorURL
	log.HashAlgorithm = "SHA2_256"
	log.PublicKey.RawBytes = b.Bytes
	log.PublicKey.KeyDetails = details
	log.PublicKey.ValidFor = since
	log.LogID.KeyID = logID[:]

	type ca struct {
		Subject   any    `json:"subject"`
		URI       string `json:"uri"`
		CertChain struct {
			Certificates []raw `json:"certificates"`
		} `json:"certChain"`
		ValidFor validFor `json:"validFor"`
	}
	authority := ca{Subject: subject, URI: fulcioURL, ValidFor: since}
	authority.CertChain.Certificates = append(chain, roots...)

	return json.MarshalIndent(map[string]any{
		"mediaType":              "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
		"tlogs":                  []tlog{log},
		"certificateAuthorities": []ca{authority},
		"ctlogs":                 []tlog{},
		"timestampAuthorities":   []ca{},
	}, "", "  ")
}

func (e *SigstoreEnv) startFulcio() error {
	cfg := filepath.Join(e.dir, "fulcio.json")
	config := fmt.Sprintf(`{"OIDCIssuers":{%q:{"IssuerURL":%q,"ClientID":"sigstore","Type":"github-workflow"}}}`, e.OIDC.URL, e.OIDC.URL)
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		http, grpc, metrics := freePort(), freePort(), freePort()
		p, err := e.start("fulcio", lookup("fulcio"), "serve",
			"--ca", "ephemeralca",
			"--ct-log-url", "",
			"--config-path", cfg,
			"--host", "127.0.0.1", "--port", strconv.Itoa(http),
			"--grpc-host", "127.0.0.1", "--grpc-port", strconv.Itoa(grpc),
			"--metrics-port", strconv.Itoa(metrics),
			// An abstract socket name unique to this stack: two test binaries may run at once.
			"--legacy-unix-domain-socket", fmt.Sprintf("@fleetpush-fulcio-%d-%d", os.Getpid(), http),
		)
		if err != nil {
			return err
		}
		url := fmt.Sprintf("http://127.0.0.1:%d", http)
		root, err := p.waitBody(url+"/api/v1/rootCert", 30*time.Second)
		if err != nil {
			lastErr = err
			p.kill()
			continue
		}
		e.FulcioURL = url
		e.FulcioRoot = root
		e.fulcioMetrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", metrics)
		e.FulcioRootFile = filepath.Join(e.dir, "fulcio-root.pem")
		return os.WriteFile(e.FulcioRootFile, []byte(root), 0o600)
	}
	return fmt.Errorf("fulcio did not come up: %w", lastErr)
}

func (e *SigstoreEnv) startRekor() error {
	// MariaDB in a throw-away data folder, reachable on a free TCP port and a socket.
	data := filepath.Join(e.dir, "mariadb")
	install := exec.Command(lookup("mariadb-install-db"), "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db")
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
	}
	sock := filepath.Join(e.dir, "mariadb.sock")
	dbPort := freePort()
	db, err := e.start("mariadbd", lookup("mariadbd"), "--no-defaults", "--datadir="+data, "--socket="+sock,
		"--port="+strconv.Itoa(dbPort), "--bind-address=127.0.0.1", "--user=root", "--skip-log-bin",
		"--skip-grant-tables", "--innodb-buffer-pool-size=64M", "--pid-file="+filepath.Join(e.dir, "mariadb.pid"))
	if err != nil {
		return err
	}
	if err := db.waitTCP(fmt.Sprintf("127.0.0.1:%d", dbPort), 60*time.Second); err != nil {
		return err
	}
	schema, err := trillianSchema()
	if err != nil {
		return err
	}
	sql, err := os.ReadFile(schema)
	if err != nil {
		return err
	}
	load := exec.Command(lookup("mariadb"), "--no-defaults", "--socket="+sock, "-u", "root")
	load.Stdin = io.MultiReader(strings.NewReader("CREATE DATABASE trillian; USE trillian;\n"), strings.NewReader(string(sql)))
	if out, err := load.CombinedOutput(); err != nil {
		return fmt.Errorf("loading trillian's schema: %w\n%s", err, out)
	}
	mysqlURI := fmt.Sprintf("root@tcp(127.0.0.1:%d)/trillian", dbPort)
	// The database flags of both Trillian servers. Left alone, Trillian keeps Go's default of
	// two idle database connections: under a run's burst of entries it opened and closed
	// hundreds of connections a run, and MariaDB's per-connection setup cost more CPU than the
	// entries (a production log sizes its pool).
	trillianDB := []string{"--storage_system=mysql", "--quota_system=noop", "--mysql_uri=" + mysqlURI,
		"--mysql_max_idle_conns=32", "--mysql_max_conns=64"}

	logRPC, logHTTP := freePort(), freePort()
	logServer, err := e.start("trillian_log_server", lookup("trillian_log_server"),
		slices.Concat(trillianDB, []string{fmt.Sprintf("--rpc_endpoint=127.0.0.1:%d", logRPC), fmt.Sprintf("--http_endpoint=127.0.0.1:%d", logHTTP)})...)
	if err != nil {
		return err
	}
	signerRPC, signerHTTP := freePort(), freePort()
	signer, err := e.start("trillian_log_signer", lookup("trillian_log_signer"),
		slices.Concat(trillianDB, []string{"--force_master",
			// Rekor answers an upload once the entry is sequenced: sequence often.
			"--sequencer_interval=50ms",
			fmt.Sprintf("--rpc_endpoint=127.0.0.1:%d", signerRPC), fmt.Sprintf("--http_endpoint=127.0.0.1:%d", signerHTTP)})...)
	if err != nil {
		return err
	}
	if err := logServer.waitTCP(fmt.Sprintf("127.0.0.1:%d", logRPC), 30*time.Second); err != nil {
		return err
	}
	if err := signer.waitTCP(fmt.Sprintf("127.0.0.1:%d", signerRPC), 30*time.Second); err != nil {
		return err
	}

	// Rekor also serves metrics on :2112, a port no flag changes; it ignores a failure to bind
	// it, so several stacks (one per test binary) can run side by side.
	rekorPort := freePort()
	rekor, err := e.start("rekor-server", lookup("rekor-server"), "serve",
		"--host=127.0.0.1", "--rekor_server.address=127.0.0.1", "--port="+strconv.Itoa(rekorPort),
		"--trillian_log_server.address=127.0.0.1", "--trillian_log_server.port="+strconv.Itoa(logRPC),
		"--trillian_log_server.tlog_id=0",
		"--rekor_server.signer=memory",
		"--enable_retrieve_api=false",
		"--enabled_api_endpoints=getLogInfo,getPublicKey,getLogProof,createLogEntry,getLogEntryByIndex,getLogEntryByUUID,searchLogQuery",
	)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", rekorPort)
	key, err := rekor.waitBody(url+"/api/v1/log/publicKey", 60*time.Second)
	if err != nil {
		return err
	}
	e.RekorURL = url
	e.RekorPublicKey = key
	e.RekorPublicKeyFile = filepath.Join(e.dir, "rekor.pub")
	return os.WriteFile(e.RekorPublicKeyFile, []byte(key), 0o600)
}

func (e *SigstoreEnv) stop() {
	for i := len(e.procs) - 1; i >= 0; i-- {
		e.procs[i].kill()
	}
	e.procs = nil
	if e.OIDC != nil {
		e.OIDC.Close()
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// proc is a server of the stack, its output in a log file for error messages.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// spawn starts processes from one goroutine locked to its OS thread for the life of the test
// binary: Pdeathsig fires when the thread that started a child exits, and this one never does,
// so the children die with the binary (a killed `go test` leaves no servers behind).
var spawn = func() chan func() {
	ch := make(chan func())
	go func() {
		runtime.LockOSThread()
		for f := range ch {
			f()
		}
	}()
	return ch
}()

func (e *SigstoreEnv) start(name, bin string, args ...string) (*proc, error) {
	if bin == "" {
		return nil, fmt.Errorf("%s is not installed: run `bash hack/tools.sh`", name)
	}
	logPath := filepath.Join(e.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	errc := make(chan error, 1)
	spawn <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }() //nolint:errcheck // the exit shows in the log
	e.procs = append(e.procs, p)
	return p, nil
}

func (p *proc) kill() {
	if p.cmd.Process == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // already gone is fine
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// failure describes a server that did not come up, with the end of its log.
func (p *proc) failure(what string) error {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return fmt.Errorf("%s %s:\n%s", p.name, what, b)
}

func (p *proc) waitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return p.failure("exited")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p.failure("did not listen on " + addr + " in " + timeout.String())
}

// waitBody polls url until it answers 200 and returns the body.
func (p *proc) waitBody(url string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	last := ""
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return "", p.failure("exited")
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b), nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", p.failure("did not answer " + url + " in " + timeout.String() + " " + last)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("finding a free port: %v", err))
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
