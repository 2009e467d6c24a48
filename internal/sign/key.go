package sign

import (
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
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key of cosign-key: %w", err)
	}
	return &credential{sv: sv, pub: pub, pubPEM: pubPEM, identity: "key"}, nil
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
