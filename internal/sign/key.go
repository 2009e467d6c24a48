package sign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/fleetpush/fleetpush/internal/inputfile"
)

// readPEMOrFile returns s itself when it holds PEM, else the contents of the file s names, read
// as the one reader of input files reads them (regular files only, up to k's cap).
func readPEMOrFile(k inputfile.Kind, s string) ([]byte, error) {
	if strings.Contains(s, "-----BEGIN ") {
		return []byte(s), nil
	}
	return inputfile.Read(k, s)
}

// The PEM types users hand in as cosign-key, besides cosign's own.
const (
	pemPublicKey         = "PUBLIC KEY"
	pemRSAPublicKey      = "RSA PUBLIC KEY"
	pemCertificate       = "CERTIFICATE"
	pemEncryptedPKCS8    = "ENCRYPTED PRIVATE KEY"
	pemOpenSSHPrivateKey = "OPENSSH PRIVATE KEY"
)

// importHint is how a plain private key becomes a cosign key.
const importHint = "cosign signs with an encrypted cosign key: run `cosign import-key-pair --key <file>.pem` (it asks for a password and writes import-cosign.key), then give that file as cosign-key and its password as COSIGN_PASSWORD; or make a new pair with `cosign generate-key-pair`"

// keyBlock returns the first PEM block of what cosign-key holds, or an error that says what the
// input holds instead of a cosign key, and what to give.
func keyBlock(raw []byte) (*pem.Block, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errors.New("cosign-key is empty: give a cosign private key (cosign.key, from `cosign generate-key-pair`) to sign, or its public key (cosign.pub) to verify; PEM text or a file path")
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("cosign-key holds no PEM block (no -----BEGIN ...----- line): give a cosign private key (cosign.key, from `cosign generate-key-pair`) or its public key (cosign.pub), as PEM text or a file path; when it is set from a secret, check that its line breaks survived")
	}
	switch block.Type {
	case cosign.SigstorePrivateKeyPemType, cosign.CosignPrivateKeyPemType, pemPublicKey:
		return block, nil
	case cosign.PrivateKeyPemType, cosign.ECPrivateKeyPemType, cosign.RSAPrivateKeyPemType:
		return nil, fmt.Errorf("cosign-key is an unencrypted PEM private key (%s), not a cosign key: %s", block.Type, importHint)
	case pemEncryptedPKCS8:
		return nil, fmt.Errorf("cosign-key is a password-protected PKCS#8 key (%s) as OpenSSL writes it, not a cosign key: decrypt it (`openssl pkcs8 -in key.pem -out plain.pem`), then %s", block.Type, importHint[strings.Index(importHint, "run "):])
	case pemOpenSSHPrivateKey:
		return nil, errors.New("cosign-key is an OpenSSH private key, which cosign does not read: make a pair with `cosign generate-key-pair`, or convert the key to PEM (`ssh-keygen -p -m PKCS8 -f <file>`) and import it with `cosign import-key-pair --key <file>`")
	case pemCertificate:
		return nil, errors.New("cosign-key holds a certificate, not a key: give the cosign private key (cosign.key) to sign, or a public key (cosign.pub) to verify; the public key of a certificate is `openssl x509 -in cert.pem -pubkey -noout`")
	case pemRSAPublicKey:
		return nil, errors.New("cosign-key is a PKCS#1 RSA public key (RSA PUBLIC KEY), which cosign does not read: convert it with `openssl rsa -RSAPublicKey_in -in key.pem -pubout` (a PUBLIC KEY block)")
	}
	return nil, fmt.Errorf("cosign-key holds a PEM block of type %q, not a cosign key: give a cosign private key (cosign.key, from `cosign generate-key-pair`) or its public key (cosign.pub)", block.Type)
}

// loadKey loads a cosign key: a private key (as written by `cosign generate-key-pair`) that
// signs and verifies, or a public key (cosign.pub) that only verifies.
func loadKey(key, password string) (*credential, error) {
	if key == "" {
		return nil, errors.New("sign mode key needs cosign-key (a cosign private key to sign, or its public key to verify; PEM or file)")
	}
	raw, err := readPEMOrFile(inputfile.CosignKey, key)
	if err != nil {
		return nil, err
	}
	block, err := keyBlock(raw)
	if err != nil {
		return nil, err
	}
	if block.Type == pemPublicKey {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(raw)
		if err != nil {
			return nil, fmt.Errorf("loading the public key in cosign-key: %w (give the cosign.pub that `cosign generate-key-pair` wrote)", err)
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
		if password == "" {
			return nil, fmt.Errorf("loading cosign-key: %w (the key is encrypted and COSIGN_PASSWORD is empty: set it to the key's password)", err)
		}
		return nil, fmt.Errorf("loading cosign-key: %w (the key is a cosign key, but it does not open with COSIGN_PASSWORD: is COSIGN_PASSWORD right?)", err)
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
