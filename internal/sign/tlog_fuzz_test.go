package sign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// FuzzRecordedSignature: whatever entry body a log answers with, reading the signature it
// records returns it or an error, never panics; a well-formed hashedrekord entry gives its
// signature back.
func FuzzRecordedSignature(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	if err != nil {
		f.Fatal(err)
	}
	sum := sha256.Sum256([]byte("payload"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		f.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	hashedrekord := fmt.Sprintf(`{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":%q}},"signature":{"content":%q,"publicKey":{"content":%q}}}}`,
		hex.EncodeToString(sum[:]), b64(sig), b64(pub))
	dsse := fmt.Sprintf(`{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256","value":%q},"payloadHash":{"algorithm":"sha256","value":%q},"signatures":[{"signature":%q,"verifier":%q}]}}`,
		hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:]), b64(sig), b64(pub))

	idx, at, logID0 := int64(7), int64(1700000000), hex.EncodeToString(sum[:])
	got, err := recordedSignature(&models.LogEntryAnon{Body: b64([]byte(hashedrekord)), LogID: &logID0, LogIndex: &idx, IntegratedTime: &at})
	if err != nil || string(got) != string(sig) {
		f.Fatalf("recordedSignature(hashedrekord) = %x, %v; want %x", got, err, sig)
	}

	f.Add([]byte(hashedrekord), hex.EncodeToString(sum[:]))
	f.Add([]byte(dsse), "00")
	f.Add([]byte(`{"kind":"dsse","apiVersion":"0.0.1","spec":{"signatures":[]}}`), "")
	f.Add([]byte(`{"kind":"rekord","apiVersion":"0.0.1","spec":{}}`), "zz")
	f.Fuzz(func(t *testing.T, body []byte, logID string) {
		e := &models.LogEntryAnon{Body: b64(body), LogID: &logID, LogIndex: &idx, IntegratedTime: &at}
		if _, err := recordedSignature(e); err != nil {
			return
		}
	})
}
