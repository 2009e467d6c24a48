package sign

import (
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

// loadKey loads a cosign private key (as written by `cosign generate-key-pair`).
func loadKey(key, password string) (*credential, error) {
	if key == "" {
		return nil, errors.New("sign mode key needs cosign-key (a cosign private key, PEM or file)")
	}
	pem, err := readPEMOrFile(key)
	if err != nil {
		return nil, fmt.Errorf("reading cosign-key: %w", err)
	}
	sv, err := cosign.LoadPrivateKey(pem, []byte(password), nil)
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
	return &credential{sv: sv, pubPEM: pubPEM, identity: "key"}, nil
}

// PublicKey returns the PEM public key of a cosign private key, for the Secret Flux verifies
// with.
func PublicKey(key, password string) ([]byte, error) {
	cred, err := loadKey(key, password)
	if err != nil {
		return nil, err
	}
	return cred.pubPEM, nil
}
