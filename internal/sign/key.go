package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// readPEMOrFile returns s itself when it holds PEM, else the contents of the file s names.
func readPEMOrFile(s string) ([]byte, error) {
	if strings.Contains(s, "-----BEGIN ") {
		return []byte(s), nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("neither PEM nor a readable file: %w", err)
	}
	return b, nil
}

// loadKey loads a cosign key: a private key (as written by `cosign generate-key-pair`) that
// signs and verifies, or a public key (cosign.pub) that only verifies.
func loadKey(key, password string) (*credential, error) {
	if key == "" {
		return nil, errors.New("sign mode key needs cosign-key (a cosign private key to sign, or its public key to verify; PEM or file)")
	}
	raw, err := readPEMOrFile(key)
	if err != nil {
		return nil, fmt.Errorf("reading cosign-key: %w", err)
	}
	if block, _ := pem.Decode(raw); block != nil && block.Type == "PUBLIC KEY" {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(raw)
		if err != nil {
			return nil, fmt.Errorf("loading the public key in cosign-key: %w", err)
		}
		if err := fluxVerifiable(pub); err != nil {
			return nil, err
		}
		pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
		if err != nil {
			return nil, fmt.Errorf("encoding the public key of cosign-key: %w", err)
		}
		return &credential{pub: pub, pubPEM: pubPEM, identity: "key"}, nil
	}
	sv, err := cosign.LoadPrivateKey(raw, []byte(password), nil)
	if err != nil {
		return nil, fmt.Errorf("loading cosign-key: %w (is COSIGN_PASSWORD right?)", err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("reading the public key of cosign-key: %w", err)
	}
	if err := fluxVerifiable(pub); err != nil {
		return nil, err
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key of cosign-key: %w", err)
	}
	return &credential{sv: sv, pub: pub, pubPEM: pubPEM, identity: "key"}, nil
}

// fluxVerifiable refuses a key whose signatures Flux cannot verify. Flux's source-controller
// verifies a key's signatures over SHA-256 (signature.LoadVerifier(key, crypto.SHA256)), and so
// do this package's checks. cosign signs over SHA-256 with P-256 and RSA keys, but over SHA-384
// or SHA-512 with P-384 and P-521 keys and as Ed25519ph with Ed25519 keys: such signatures, by
// cosign or by fleetpush, would fail in every cluster. Refusing the key up front says so before
// anything is pushed.
func fluxVerifiable(pub crypto.PublicKey) error {
	const fix = "Flux verifies key signatures over SHA-256, which cosign uses with P-256 and RSA (2048, 3072 or 4096 bits) keys only: make a key pair with `cosign generate-key-pair` (ECDSA P-256)"
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return nil
		}
		return fmt.Errorf("cosign-key is an ECDSA %s key. %s", k.Curve.Params().Name, fix)
	case *rsa.PublicKey:
		return nil
	case ed25519.PublicKey:
		return fmt.Errorf("cosign-key is an Ed25519 key. %s", fix)
	}
	return fmt.Errorf("cosign-key holds a key of type %T. %s", pub, fix)
}

// PublicKey returns the PEM public key of a cosign key (private or public), for the Secret Flux
// verifies with.
func PublicKey(key, password string) ([]byte, error) {
	cred, err := loadKey(key, password)
	if err != nil {
		return nil, err
	}
	return cred.pubPEM, nil
}
