package sign_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/cosign/v2/pkg/cosign"

	"github.com/fleetpush/fleetpush/internal/sign"
)

// TestKeyTypes: Flux verifies key signatures over SHA-256, which cosign signs with for P-256 and
// RSA keys only. Those keys sign in both formats and verify; a P-384, P-521 or Ed25519 key,
// private or public, is refused when the signer is made, naming cosign-key and what to do,
// instead of signing what no cluster can verify.
func TestKeyTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := memRegistryAPI(t, false)
	for _, c := range []struct {
		name string
		key  func() (crypto.Signer, error)
		ok   bool
	}{
		{"P-256", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }, true},
		{"RSA 2048", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }, true},
		{"P-384", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) }, false},
		{"P-521", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P521(), rand.Reader) }, false},
		{"Ed25519", func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := c.key()
			if err != nil {
				t.Fatal(err)
			}
			// As `cosign import-key-pair` makes a cosign key of it.
			der, err := x509.MarshalPKCS8PrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "imported.pem")
			if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
			kb, err := cosign.ImportKeyPair(file, func(bool) ([]byte, error) { return []byte("pw"), nil })
			if err != nil {
				t.Fatal(err)
			}
			private := sign.Options{Mode: sign.ModeKey, Key: string(kb.PrivateBytes), KeyPassword: "pw"}
			public := sign.Options{Mode: sign.ModeKey, Key: string(kb.PublicBytes)}
			if !c.ok {
				for _, o := range []sign.Options{private, public} {
					_, err := sign.New(ctx, o)
					if err == nil || !strings.Contains(err.Error(), "cosign-key") || !strings.Contains(err.Error(), "cosign generate-key-pair") {
						t.Errorf("New = %v, want a refusal naming cosign-key and how to make a key Flux verifies", err)
					}
				}
				return
			}
			v, err := sign.New(ctx, public)
			if err != nil {
				t.Fatal(err)
			}
			// Each format alone, so that the check of each is the one that decides.
			for _, f := range []sign.SignatureFormat{sign.FormatLegacy, sign.FormatBundle} {
				o := private
				o.SignatureFormat = f
				s, err := sign.New(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				d := pushRandom(t, host, "acme/app/keys")
				if res, err := s.Sign(ctx, d); err != nil || res.Status != sign.StatusNew {
					t.Fatalf("%s: Sign = %+v, %v; want a new signature", f, res, err)
				}
				if got, err := v.Verification(ctx, d); err != nil || got.Format != f {
					t.Errorf("%s: Verification with the public key = %+v, %v", f, got, err)
				}
			}
		})
	}
}
