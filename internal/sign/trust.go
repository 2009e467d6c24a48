package sign

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/tuf"

	"github.com/fleetpush/fleetpush/internal/inputfile"
)

// trustRoot fills the trust material of check (the legacy signatures) and returns the same
// material for Sigstore bundles: from trusted-root; else the private Sigstore of fulcio-root
// and rekor-public-key; else the public one from cosign's TUF-based trusted root. ignoreSCT says
// certificates need not carry an SCT: the trust root names no CT log (as Flux decides).
func trustRoot(o Options, check *cosign.CheckOpts) (material root.TrustedMaterial, ignoreSCT bool, err error) {
	private := o.FulcioRoot != "" || o.RekorPublicKey != "" || o.CTLogPublicKey != ""
	switch {
	case o.TrustedRoot != "" && private:
		return nil, false, errors.New("set trusted-root or fulcio-root/rekor-public-key, not both: trusted-root holds all of them")
	case o.TrustedRoot != "":
		tr, err := loadTrustedRoot(o.TrustedRoot)
		if err != nil {
			return nil, false, err
		}
		check.TrustedMaterial = tr
		check.IgnoreSCT = len(tr.CTLogs()) == 0
		if len(tr.FulcioCertificateAuthorities()) == 0 {
			return nil, false, errors.New("trusted-root lists no certificate authority: keyless signatures cannot verify against it")
		}
		if o.TLogUpload && len(tr.RekorLogs()) == 0 {
			return nil, false, errors.New("trusted-root lists no transparency log (Rekor): keyless signatures recorded in one cannot verify against it")
		}
		return tr, check.IgnoreSCT, nil
	case !private:
		tr, err := cosign.TrustedRoot()
		if err != nil {
			return nil, false, fmt.Errorf("loading the public Sigstore trusted root: %w (for a private Sigstore set trusted-root, or fulcio-root and rekor-public-key)", err)
		}
		check.TrustedMaterial = tr
		return tr, false, nil
	}
	if o.FulcioRoot == "" || (o.RekorPublicKey == "" && o.TLogUpload) {
		return nil, false, errors.New("a private Sigstore needs both fulcio-root and rekor-public-key (or trusted-root)")
	}

	rootPEM, err := readPEMOrFile(inputfile.FulcioRoot, o.FulcioRoot)
	if err != nil {
		return nil, false, err
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(rootPEM)
	if err != nil || len(certs) == 0 {
		return nil, false, fmt.Errorf("reading fulcio-root: no PEM certificates in it")
	}
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	ca := &root.FulcioCertificateAuthority{URI: o.FulcioURL}
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			roots.AddCert(c)
			if ca.Root == nil {
				ca.Root = c
			}
		} else {
			intermediates.AddCert(c)
			ca.Intermediates = append(ca.Intermediates, c)
		}
	}
	if ca.Root == nil {
		return nil, false, errors.New("reading fulcio-root: no self-signed root certificate in it")
	}
	check.RootCerts, check.IntermediateCerts = roots, intermediates

	rekorLogs := map[string]*root.TransparencyLog{}
	if o.RekorPublicKey != "" {
		pem, err := readPEMOrFile(inputfile.RekorPublicKey, o.RekorPublicKey)
		if err != nil {
			return nil, false, err
		}
		keys := cosign.NewTrustedTransparencyLogPubKeys()
		if err := keys.AddTransparencyLogPubKey(pem, tuf.Active); err != nil {
			return nil, false, fmt.Errorf("reading rekor-public-key: %w", err)
		}
		check.RekorPubKeys = &keys
		if err := addLog(rekorLogs, o.RekorURL, pem); err != nil {
			return nil, false, fmt.Errorf("reading rekor-public-key: %w", err)
		}
	}

	// A Fulcio without a CT log issues certificates without SCTs; require them only when the
	// trust root names a CT log.
	ctLogs := map[string]*root.TransparencyLog{}
	if o.CTLogPublicKey == "" {
		check.IgnoreSCT = true
	} else {
		pem, err := readPEMOrFile(inputfile.CTLogPublicKey, o.CTLogPublicKey)
		if err != nil {
			return nil, false, err
		}
		keys := cosign.NewTrustedTransparencyLogPubKeys()
		if err := keys.AddTransparencyLogPubKey(pem, tuf.Active); err != nil {
			return nil, false, fmt.Errorf("reading the CT log public key: %w", err)
		}
		check.CTLogPubKeys = &keys
		if err := addLog(ctLogs, "", pem); err != nil {
			return nil, false, fmt.Errorf("reading the CT log public key: %w", err)
		}
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{ca}, ctLogs, nil, rekorLogs)
	if err != nil {
		return nil, false, err
	}
	return tr, check.IgnoreSCT, nil
}

// addLog adds the log whose public key is pem to logs, under its log ID (the SHA-256 of the
// key's DER encoding), as a trusted root lists it.
func addLog(logs map[string]*root.TransparencyLog, baseURL string, pem []byte) error {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pem)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	id := sha256.Sum256(der)
	logs[hex.EncodeToString(id[:])] = &root.TransparencyLog{
		BaseURL: baseURL,
		ID:      id[:],
		// A key given alone says nothing of when it was in use: trust it for any entry time
		// (sigstore-go refuses a log without a start).
		ValidityPeriodStart: time.Unix(0, 0).UTC(),
		HashFunc:            crypto.SHA256,
		PublicKey:           pub,
		SignatureHashFunc:   crypto.SHA256,
	}
	return nil
}

// loadTrustedRoot reads a Sigstore trusted_root.json given as JSON or as a file path.
func loadTrustedRoot(s string) (*root.TrustedRoot, error) {
	raw := []byte(s)
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		var err error
		if raw, err = inputfile.Read(inputfile.TrustedRoot, s); err != nil {
			return nil, err
		}
	}
	tr, err := root.NewTrustedRootFromJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("reading trusted-root: not a Sigstore trusted_root.json: %w", err)
	}
	return tr, nil
}
