package sign

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// testLog is a transparency log in memory: it makes Rekor v1 entries of hashedrekord bodies,
// each alone in a tree of one, with a signed entry timestamp from its key.
type testLog struct {
	key    *ecdsa.PrivateKey
	pubPEM []byte
	id     string
}

func newTestLog(t *testing.T) *testLog {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256(der)
	return &testLog{key: key, pubPEM: pub, id: hex.EncodeToString(id[:])}
}

// entry is the log's entry of sig over payload by the key keyPEM.
func (l *testLog) entry(t *testing.T, sig, pl, keyPEM []byte) *models.LogEntryAnon {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString
	sum := sha256.Sum256(pl)
	body := b64([]byte(fmt.Sprintf(`{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":%q}},"signature":{"content":%q,"publicKey":{"content":%q}}}}`,
		hex.EncodeToString(sum[:]), b64(sig), b64(keyPEM))))
	idx, at := int64(0), int64(1700000000)
	// The signed entry timestamp: the log's signature over the canonical JSON of the entry.
	set := sha256.Sum256([]byte(fmt.Sprintf(`{"body":%q,"integratedTime":%d,"logID":%q,"logIndex":%d}`, body, at, l.id, idx)))
	setSig, err := ecdsa.SignASN1(rand.Reader, l.key, set[:])
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(body)
	leaf := sha256.Sum256(append([]byte{0}, raw...))
	root, size := hex.EncodeToString(leaf[:]), int64(1)
	checkpoint := "test-log - 1\n1\n" + b64(leaf[:]) + "\n"
	return &models.LogEntryAnon{
		Body: body, IntegratedTime: &at, LogID: &l.id, LogIndex: &idx,
		Verification: &models.LogEntryAnonVerification{
			SignedEntryTimestamp: setSig,
			InclusionProof:       &models.InclusionProof{LogIndex: &idx, TreeSize: &size, RootHash: &root, Hashes: []string{}, Checkpoint: &checkpoint},
		},
	}
}

// TestLogAnswerChecks: a key-mode signer with the log on takes from the log's answer only an
// entry that records the signature it uploaded, from the trusted log; a legacy signature that
// carries another signature's entry fails cosign's verification, offline.
func TestLogAnswerChecks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte("pw"), nil })
	if err != nil {
		t.Fatal(err)
	}
	log, other := newTestLog(t), newTestLog(t)
	s, err := newCosignSigner(Options{Mode: ModeKey, Key: string(kb.PrivateBytes), KeyPassword: "pw", TLogUpload: true, RekorURL: "http://127.0.0.1:1", RekorPublicKey: string(log.pubPEM)})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest("registry.example/acme/app@sha256:" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	otherRef := ref.Context().Digest("sha256:" + strings.Repeat("cd", 32))
	signed := func(d name.Digest) ([]byte, []byte) {
		pl, err := (&payload.Cosign{Image: d}).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.cred.sv.SignMessage(bytes.NewReader(pl))
		if err != nil {
			t.Fatal(err)
		}
		return pl, sig
	}
	pl, sig := signed(ref)
	otherPl, otherSig := signed(otherRef)
	own := log.entry(t, sig, pl, s.cred.pubPEM)
	// The same payload signed by another key.
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKeyPEM, err := cryptoutils.MarshalPublicKeyToPEM(otherKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pl)
	otherKeySig, err := ecdsa.SignASN1(rand.Reader, otherKey, sum[:])
	if err != nil {
		t.Fatal(err)
	}

	noProof := log.entry(t, sig, pl, s.cred.pubPEM)
	noProof.Verification.InclusionProof = nil
	badProof := log.entry(t, sig, pl, s.cred.pubPEM)
	wrongRoot := strings.Repeat("00", 32)
	badProof.Verification.InclusionProof.RootHash = &wrongRoot
	notJSON := log.entry(t, sig, pl, s.cred.pubPEM)
	notJSON.Body = base64.StdEncoding.EncodeToString([]byte("{"))

	for _, tc := range []struct {
		name  string
		entry *models.LogEntryAnon
		want  string // "" passes
		is    error
	}{
		{name: "its own entry", entry: own},
		{name: "another signature's entry", entry: log.entry(t, otherSig, otherPl, s.cred.pubPEM), want: "rekor-url", is: ErrForeignEntry},
		{name: "another key's entry of the same payload", entry: log.entry(t, otherKeySig, pl, otherKeyPEM), is: ErrForeignEntry},
		{name: "its entry from an untrusted log", entry: other.entry(t, sig, pl, s.cred.pubPEM), want: "trusted log key"},
		{name: "no inclusion proof", entry: noProof, want: "inclusion proof"},
		{name: "an inclusion proof that does not verify", entry: badProof, want: "inclusion proof"},
		{name: "a body that is not an entry", entry: notJSON, want: "reading the log's entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.logged(ctx, tc.entry, sig)
			switch {
			case tc.want == "" && tc.is == nil && err != nil:
				t.Fatalf("logged() = %v, want it accepted", err)
			case (tc.want != "" || tc.is != nil) && err == nil:
				t.Fatal("logged() accepted it")
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Errorf("logged() = %v, want %v", err, tc.is)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("logged() = %v, want it to name %q", err, tc.want)
			}
		})
	}

	// An entry without apiVersion makes rekor's entry types dereference nil (found by
	// FuzzRecordedSignature): the log's answer is refused, not a crash.
	noVersion := log.entry(t, sig, pl, s.cred.pubPEM)
	noVersion.Body = base64.StdEncoding.EncodeToString([]byte(`{"kind":"dsse"}`))
	if err := s.logged(ctx, noVersion, sig); err == nil || !strings.Contains(err.Error(), "reading the log's entry") {
		t.Errorf("logged(an entry without apiVersion) = %v, want it refused", err)
	}

	// The same entry in a legacy signature stored in a registry: cosign's VerifyImageSignatures
	// would end the run in a goroutine of its own; it fails to verify instead.
	t.Run("a stored legacy signature whose entry has no apiVersion", func(t *testing.T) {
		srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(stdlog.New(io.Discard, "", 0))))
		t.Cleanup(srv.Close)
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		tag, err := name.NewTag(strings.TrimPrefix(srv.URL, "http://") + "/acme/malformed:tmp")
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
		h, _ := img.Digest()
		d := tag.Context().Digest(h.String())
		dpl, dsig := signed(d)
		bad := log.entry(t, dsig, dpl, s.cred.pubPEM)
		bad.Body = noVersion.Body
		stored, err := static.NewSignature(dpl, base64.StdEncoding.EncodeToString(dsig), static.WithBundle(cbundle.EntryToBundle(bad)))
		if err != nil {
			t.Fatal(err)
		}
		se, err := ociremote.SignedEntity(d)
		if err != nil {
			t.Fatal(err)
		}
		withSig, err := mutate.AttachSignatureToEntity(se, stored)
		if err != nil {
			t.Fatal(err)
		}
		if err := ociremote.WriteSignatures(d.Repository, withSig); err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(ctx, d); !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("Verify() = %v, want ErrVerify naming the malformed entry", err)
		}
	})

	// What cosign verifies of a legacy signature that carries an entry: its own passes, another
	// signature's does not.
	for _, tc := range []struct {
		name  string
		entry *models.LogEntryAnon
		ok    bool
	}{
		{"its own entry", own, true},
		{"another signature's entry", log.entry(t, otherSig, otherPl, s.cred.pubPEM), false},
		{"its entry from an untrusted log", other.entry(t, sig, pl, s.cred.pubPEM), false},
		{"another key's entry of the same payload", log.entry(t, otherKeySig, pl, otherKeyPEM), false},
	} {
		t.Run("verifyHeld "+tc.name, func(t *testing.T) {
			held, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(sig), static.WithBundle(cbundle.EntryToBundle(tc.entry)))
			if err != nil {
				t.Fatal(err)
			}
			err = s.verifyHeld(ctx, held, ref)
			if tc.ok && err != nil {
				t.Errorf("verifyHeld() = %v, want it verified", err)
			}
			if !tc.ok && !errors.Is(err, ErrVerify) {
				t.Errorf("verifyHeld() = %v, want ErrVerify", err)
			}
		})
	}
}
