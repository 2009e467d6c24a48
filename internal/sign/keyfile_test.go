package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/sign"
)

// TestWrongKeys: every sort of wrong cosign-key gets its own message that says what the input
// holds and what to give instead; only a cosign key that does not open with the password is
// asked about COSIGN_PASSWORD. Each variant is tried inline and as a file.
func TestWrongKeys(t *testing.T) {
	t.Parallel()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ec.PublicKey, ec)
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})) }
	cosignKey, _ := writeKeyPair(t, "right")

	const askPassword = "COSIGN_PASSWORD right?"
	for _, tc := range []struct {
		name, key, password string
		want                []string
	}{
		{"plain PKCS#8 private key", block("PRIVATE KEY", pkcs8), "", []string{"unencrypted PEM private key (PRIVATE KEY)", "cosign import-key-pair --key"}},
		{"plain PKCS#8 private key with a password set", block("PRIVATE KEY", pkcs8), "pw", []string{"unencrypted PEM private key", "cosign import-key-pair --key"}},
		{"plain EC private key", block("EC PRIVATE KEY", sec1), "", []string{"unencrypted PEM private key (EC PRIVATE KEY)", "cosign import-key-pair"}},
		{"plain RSA private key", block("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), "", []string{"unencrypted PEM private key (RSA PRIVATE KEY)", "cosign import-key-pair"}},
		{"OpenSSL-encrypted PKCS#8", block("ENCRYPTED PRIVATE KEY", []byte{0x30, 0}), "pw", []string{"password-protected PKCS#8 key", "openssl pkcs8", "cosign import-key-pair"}},
		{"OpenSSH private key", block("OPENSSH PRIVATE KEY", []byte("openssh-key-v1")), "", []string{"OpenSSH private key", "cosign generate-key-pair"}},
		{"certificate", block("CERTIFICATE", cert), "", []string{"holds a certificate, not a key", "openssl x509"}},
		{"PKCS#1 RSA public key", block("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), "", []string{"PKCS#1 RSA public key", "-pubout"}},
		{"another PEM block", block("X509 CRL", []byte{1}), "", []string{`PEM block of type "X509 CRL", not a cosign key`}},
		{"broken public key", block("PUBLIC KEY", []byte{1, 2, 3}), "", []string{"loading the public key in cosign-key"}},
		{"cosign key, wrong password", cosignKey, "wrong", []string{"does not open with COSIGN_PASSWORD", askPassword}},
		{"cosign key, no password", cosignKey, "", []string{"COSIGN_PASSWORD is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(file, []byte(tc.key), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{tc.key, file} {
				_, err := sign.PublicKey(key, tc.password)
				if err == nil {
					t.Fatalf("PublicKey(%s) succeeded", tc.name)
				}
				for _, w := range append(tc.want, "cosign-key") {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if !strings.Contains(strings.Join(tc.want, " "), askPassword) && strings.Contains(err.Error(), askPassword) {
					t.Errorf("error %q asks about COSIGN_PASSWORD, which is not what is wrong", err)
				}
			}
		})
	}
}

// TestKeyFileShapes: cosign-key as a file that is empty, holds no PEM, or is not a regular file
// (an endless device, a FIFO nobody writes, a directory) is refused with what is wrong, before
// anything is read from what never ends.
func TestKeyFileShapes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := write("huge.key", "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
	if err := os.Truncate(huge, 1<<30); err != nil { // sparse
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, key, want string }{
		{"empty file", write("empty.key", ""), "cosign-key is empty"},
		{"blank file", write("blank.key", "\n  \n"), "cosign-key is empty"},
		{"garbage file", write("garbage.key", "hello, not a key"), "holds no PEM block"},
		{"missing file", filepath.Join(dir, "nope.key"), `reading cosign-key "` + filepath.Join(dir, "nope.key") + `": no such file`},
		{"/dev/zero", "/dev/zero", "a character device, not a regular file"},
		{"FIFO", fifo, "a named pipe (FIFO), not a regular file"},
		{"directory", dir, "a directory, not a regular file"},
		{"1 GiB", huge, "larger than 64 KiB, the most a cosign key (PEM) takes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := sign.PublicKey(tc.key, "pw")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "cosign-key") {
				t.Errorf("PublicKey(%s) = %v, want an error naming cosign-key and saying %q", tc.name, err, tc.want)
			}
		})
	}
}

// TestTrustFilesBounded: the trust material of a private Sigstore, given as paths, goes through
// the same reader: a device, a FIFO or a directory is refused naming the input.
func TestTrustFilesBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    sign.Options
		want string
	}{
		{"fulcio-root device", sign.Options{FulcioRoot: "/dev/zero", RekorPublicKey: fifo}, `reading fulcio-root "/dev/zero": it is a character device`},
		{"rekor-public-key FIFO", sign.Options{FulcioRoot: testCAPEM(t), RekorPublicKey: fifo}, "reading rekor-public-key"},
		{"ct-log-public-key directory", sign.Options{FulcioRoot: testCAPEM(t), RekorPublicKey: testPubPEM(t), CTLogPublicKey: dir}, "reading ct-log-public-key"},
		{"trusted-root device", sign.Options{TrustedRoot: "/dev/zero"}, `reading trusted-root "/dev/zero": it is a character device`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := tc.o
			o.Mode, o.TLogUpload = sign.ModeKeyless, true
			o.FulcioURL, o.RekorURL = "http://127.0.0.1:1", "http://127.0.0.1:1"
			o.Expected = sign.Identity{Issuer: "^https://issuer$", Subject: "^x$"}
			_, err := sign.New(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func testCAPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func testPubPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
