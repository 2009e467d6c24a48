package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/tuf"

	"github.com/fleetpush/fleetpush/internal/inputfile"
)

// A transparency log's answer to an upload is checked before anything that carries it is
// stored, with cosign's own checks (see logged and the verifications of signLegacy and
// makeBundle): a log, or a proxy in front of it, that answers with another entry (an older one,
// of another signature) would otherwise leave a signature that cosign rejects, and a digest
// tagged as signed that is not.

// ErrForeignEntry marks a transparency log answer that records another signature than the one
// uploaded.
var ErrForeignEntry = errors.New("the transparency log answered with an entry of another signature")

// rekorTrust loads the transparency log keys that key-mode signatures are checked against when
// they are recorded in the log (tlog-upload), as `cosign verify --key` checks them: trusted-root,
// else rekor-public-key, else the public Sigstore trust root. It fills check (legacy signatures)
// and returns the same logs as trust material for bundles. fulcio-root and the CT log key do
// not matter to a key.
func rekorTrust(o Options, check *cosign.CheckOpts) (root.TrustedMaterial, error) {
	switch {
	case o.TrustedRoot != "":
		tr, err := loadTrustedRoot(o.TrustedRoot)
		if err != nil {
			return nil, err
		}
		if len(tr.RekorLogs()) == 0 {
			return nil, errors.New("trusted-root lists no transparency log (Rekor): signatures recorded in one (tlog-upload) cannot verify against it; set tlog-upload: false to sign with the key alone")
		}
		check.TrustedMaterial = tr
		return tr, nil
	case o.RekorPublicKey != "":
		pem, err := readPEMOrFile(inputfile.RekorPublicKey, o.RekorPublicKey)
		if err != nil {
			return nil, fmt.Errorf("reading rekor-public-key: %w", err)
		}
		keys := cosign.NewTrustedTransparencyLogPubKeys()
		if err := keys.AddTransparencyLogPubKey(pem, tuf.Active); err != nil {
			return nil, fmt.Errorf("reading rekor-public-key: %w", err)
		}
		logs := map[string]*root.TransparencyLog{}
		if err := addLog(logs, o.RekorURL, pem); err != nil {
			return nil, fmt.Errorf("reading rekor-public-key: %w", err)
		}
		tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, nil, nil, nil, logs)
		if err != nil {
			return nil, fmt.Errorf("reading rekor-public-key: %w", err)
		}
		check.RekorPubKeys = &keys
		return tr, nil
	}
	tr, err := cosign.TrustedRoot()
	if err != nil {
		return nil, fmt.Errorf("loading the public Sigstore trusted root, for the Rekor key: %w (for a private Rekor set rekor-public-key or trusted-root; without the log set tlog-upload: false)", err)
	}
	check.TrustedMaterial = tr
	return tr, nil
}

// logged checks that a transparency log's answer to the upload of sig (the raw signature
// bytes) records that signature, and that its inclusion proof and signed entry timestamp verify
// against the trusted log keys (cosign's VerifyTLogEntryOffline). The full verification of what
// carries the entry (cosign's, as `cosign verify` runs it) follows; this one names the fault.
func (s *cosignSigner) logged(ctx context.Context, e *models.LogEntryAnon, sig []byte) error {
	if err := complete(e); err != nil {
		return err
	}
	recorded, err := recordedSignature(e)
	if err != nil {
		return err
	}
	if !bytes.Equal(recorded, sig) {
		return fmt.Errorf("%w: entry %d (logged %s) is not the one uploaded; a log, or a proxy in front of it, that answers with an existing entry cannot record signatures: check rekor-url", ErrForeignEntry, *e.LogIndex, time.Unix(*e.IntegratedTime, 0).UTC().Format(time.RFC3339))
	}
	if err := unpanicked(func() error {
		return cosign.VerifyTLogEntryOffline(ctx, e, s.check.RekorPubKeys, s.check.TrustedMaterial)
	}); err != nil {
		return fmt.Errorf("the log's entry %d does not verify against the trusted log key (rekor-public-key or trusted-root): %w", *e.LogIndex, err)
	}
	return nil
}

// recordedSignature is the signature a log entry records (of a hashedrekord or a dsse entry),
// read with sigstore-go's parser of Rekor entries. The entry is the log's answer: hostile.
func recordedSignature(e *models.LogEntryAnon) ([]byte, error) {
	body, ok := e.Body.(string)
	if !ok {
		return nil, errors.New("the log's answer holds no entry body")
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("the log's entry body: %w", err)
	}
	logID, err := hex.DecodeString(*e.LogID)
	if err != nil {
		return nil, fmt.Errorf("the log's entry ID: %w", err)
	}
	var entry *tlog.Entry
	err = unpanicked(func() error {
		var err error
		if entry, err = tlog.NewEntry(raw, *e.IntegratedTime, *e.LogIndex, logID, nil, nil); err != nil {
			return err
		}
		// Validated before its fields are read: an entry without a signature is refused.
		return tlog.ValidateEntry(entry)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the log's entry: %w", err)
	}
	return entry.Signature(), nil
}

// unpanicked runs f, which hands hostile bytes (a log's answer, what a registry holds) to
// Sigstore's parsers and verifiers. Some of those dereference what they never checked (rekor's
// entry types do for an entry without apiVersion, as FuzzRecordedSignature found): a panic there
// becomes an error, and the run goes on to report it, instead of ending with a stack trace. It
// must run in the goroutine that calls the parser.
func unpanicked(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed: Sigstore's parser failed on it (%v)", r)
		}
	}()
	return f()
}
