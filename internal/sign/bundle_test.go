package sign_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/sign"
)

// memRegistryAPI is go-containerregistry's in-memory registry with or without the referrers
// API: ghcr.io and distribution have none, and then the referrers tag schema is used.
func memRegistryAPI(t *testing.T, api bool) string {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(api)))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Two cosign key pairs for the key-mode tests, generated once: each generation and each load
// of a cosign key runs scrypt, which a loaded machine feels.
var (
	keyPairs = sync.OnceValues(func() ([2][2]string, error) {
		var out [2][2]string
		for i := range out {
			kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte("pw"), nil })
			if err != nil {
				return out, err
			}
			out[i] = [2]string{string(kb.PrivateBytes), string(kb.PublicBytes)}
		}
		return out, nil
	})
	signersMu sync.Mutex
	signers   = map[string]sign.Signer{}
)

// testKey returns key pair i (0 or 1), password "pw".
func testKey(t *testing.T, i int) (priv, pub string) {
	t.Helper()
	kp, err := keyPairs()
	if err != nil {
		t.Fatal(err)
	}
	return kp[i][0], kp[i][1]
}

// sharedKeySigner is keySigner for key pair i and format f, made once per test binary: Signers
// are safe for concurrent use.
func sharedKeySigner(t *testing.T, i int, f sign.SignatureFormat) sign.Signer {
	t.Helper()
	signersMu.Lock()
	defer signersMu.Unlock()
	k := fmt.Sprint(i, f)
	if s, ok := signers[k]; ok {
		return s
	}
	priv, _ := testKey(t, i)
	s := keySigner(t, priv, format(f))
	signers[k] = s
	return s
}

// keySigner is a key-mode Signer (no Sigstore servers needed) with the given format.
func keySigner(t *testing.T, key string, edit ...func(*sign.Options)) sign.Signer {
	t.Helper()
	o := sign.Options{Mode: sign.ModeKey, Key: key, KeyPassword: "pw"}
	for _, e := range edit {
		e(&o)
	}
	s, err := sign.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func format(f sign.SignatureFormat) func(*sign.Options) {
	return func(o *sign.Options) { o.SignatureFormat = f }
}

// attached is a Sigstore bundle referrer as stored: its manifest, its bundle and the statement
// the bundle's DSSE envelope signs.
type attached struct {
	manifest  map[string]any
	raw       []byte
	bundle    map[string]any
	statement map[string]any
}

// bundles reads every referrer of d and decodes it as a bundle referrer.
func bundles(t *testing.T, d name.Digest) []attached {
	t.Helper()
	ctx := context.Background()
	rs, err := registry.ListReferrers(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var out []attached
	for _, desc := range rs.Manifests {
		raw, _, err := registry.FetchManifest(ctx, d.Context().Digest(desc.Digest.String()), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var a attached
		a.raw = raw
		if err := json.Unmarshal(raw, &a.manifest); err != nil {
			t.Fatal(err)
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		layer, err := registry.FetchBlob(ctx, d.Context(), m.Layers[0], 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(layer, &a.bundle); err != nil {
			t.Fatal(err)
		}
		env := a.bundle["dsseEnvelope"].(map[string]any)
		payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(payload, &a.statement); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func (a attached) predicateType() string { return a.statement["predicateType"].(string) }

// TestSignatureFormats: each format writes what it names and nothing else, as cosign v3 stores
// it, on a registry with the referrers API and on one without; a re-run adds nothing.
func TestSignatureFormats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pub := testKey(t, 0)
	for _, api := range []bool{true, false} {
		host := memRegistryAPI(t, api)
		for _, f := range []sign.SignatureFormat{sign.FormatBoth, sign.FormatBundle, sign.FormatLegacy, ""} {
			t.Run(fmt.Sprintf("%s API %t", f, api), func(t *testing.T) {
				t.Parallel()
				s := sharedKeySigner(t, 0, f)
				d := pushRandom(t, host, "acme/app/frontend")
				res, err := s.Sign(ctx, d)
				if err != nil {
					t.Fatal(err)
				}
				wantLegacy, wantBundle := f != sign.FormatBundle, f != sign.FormatLegacy
				want := sign.Result{Status: sign.StatusNew, Identity: "key", RekorLogIndex: -1}
				if wantLegacy {
					want.Legacy = sign.AttachedNew
				}
				if wantBundle {
					want.Bundle = sign.AttachedNew
				}
				want.Verification = &sign.Verification{Format: sign.FormatLegacy, Identity: "key"}
				if wantBundle {
					want.Verification.Format = sign.FormatBundle
				}
				if !wantBundle && !wantLegacy {
					want.Verification = nil
				}
				if f == sign.FormatLegacy {
					// Sign did not look at the bundles: it cannot say what Flux decides.
					want.Verification = nil
				}
				if diff := cmp.Diff(want, res); diff != "" {
					t.Errorf("Sign() (-want +got):\n%s", diff)
				}
				if n, want := signatureCount(t, d), map[bool]int{true: 1}[wantLegacy]; n != want {
					t.Errorf("legacy signatures = %d, want %d", n, want)
				}
				bs := bundles(t, d)
				if n, want := len(bs), map[bool]int{true: 1}[wantBundle]; n != want {
					t.Fatalf("bundles = %d, want %d", n, want)
				}
				if wantBundle {
					checkBundleLayout(t, d, bs[0], sign.PredicateCosignSign)
					checkKeyHint(t, bs[0], pub)
				}
				v, err := s.Verification(ctx, d)
				if err != nil {
					t.Fatal(err)
				}
				wantFormat := sign.FormatLegacy
				if wantBundle {
					wantFormat = sign.FormatBundle
				}
				if v.Format != wantFormat || v.Identity != "key" {
					t.Errorf("Verification() = %+v, want %s by key", v, wantFormat)
				}

				again, err := s.Sign(ctx, d)
				if err != nil {
					t.Fatal(err)
				}
				if again.Status != sign.StatusExisting || (wantLegacy && again.Legacy != sign.AttachedExisting) || (wantBundle && again.Bundle != sign.AttachedExisting) {
					t.Errorf("re-run Sign() = %+v, want everything existing", again)
				}
				if n := len(bundles(t, d)); n != len(bs) {
					t.Errorf("bundles after a re-run = %d, want %d", n, len(bs))
				}
				if n, want := signatureCount(t, d), map[bool]int{true: 1}[wantLegacy]; n != want {
					t.Errorf("legacy signatures after a re-run = %d, want %d", n, want)
				}
			})
		}
	}
}

// checkBundleLayout fails unless a is stored as cosign v3's `cosign sign` (and `cosign attest
// --new-bundle-format`) stores a bundle: ociremote.WriteAttestationNewBundleFormat.
func checkBundleLayout(t *testing.T, d name.Digest, a attached, predicateType string) {
	t.Helper()
	m := a.manifest
	subject, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	annotations := m["annotations"].(map[string]any)
	created, err := time.Parse(time.RFC3339, fmt.Sprint(annotations["org.opencontainers.image.created"]))
	if err != nil || time.Since(created) > time.Hour {
		t.Errorf("created annotation %v: %v", annotations["org.opencontainers.image.created"], err)
	}
	delete(annotations, "org.opencontainers.image.created")
	layer := m["layers"].([]any)[0].(map[string]any)
	// fleetpush's one addition to cosign's layout: the hint naming the layer (see
	// TestBundleLayerHint).
	if got := annotations[layerAnnotation]; got != layer["digest"] {
		t.Errorf("%s = %v, want the layer's digest %v", layerAnnotation, got, layer["digest"])
	}
	delete(annotations, layerAnnotation)
	delete(layer, "digest")
	delete(layer, "size")
	want := map[string]any{
		"schemaVersion": float64(2),
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"artifactType":  sign.BundleMediaType,
		"config": map[string]any{
			"mediaType":    "application/vnd.oci.empty.v1+json",
			"artifactType": sign.BundleMediaType,
			"digest":       "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
			"size":         float64(2),
		},
		"layers": []any{map[string]any{"mediaType": sign.BundleMediaType}},
		"subject": map[string]any{
			"mediaType": string(subject.MediaType),
			"digest":    subject.Digest.String(),
			"size":      float64(subject.Size),
		},
		"annotations": map[string]any{
			"dev.sigstore.bundle.content":       "dsse-envelope",
			"dev.sigstore.bundle.predicateType": predicateType,
		},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("referrer manifest (-cosign +ours):\n%s", diff)
	}
	if got := a.bundle["mediaType"]; got != sign.BundleMediaType {
		t.Errorf("bundle media type %v", got)
	}
	env := a.bundle["dsseEnvelope"].(map[string]any)
	if env["payloadType"] != "application/vnd.in-toto+json" || len(env["signatures"].([]any)) != 1 {
		t.Errorf("DSSE envelope %v", env)
	}
	st := a.statement
	subjects := st["subject"].([]any)
	digest := subjects[0].(map[string]any)["digest"].(map[string]any)
	if st["_type"] != "https://in-toto.io/Statement/v1" || st["predicateType"] != predicateType || len(subjects) != 1 || "sha256:"+digest["sha256"].(string) != d.DigestStr() {
		t.Errorf("statement %v, want the digest %s under %s", st, d.DigestStr(), predicateType)
	}
}

// checkKeyHint: a key-signed bundle names its key by hint, as cosign does (base64 of the
// SHA-256 of the key's DER).
func checkKeyHint(t *testing.T, a attached, pubPEM string) {
	t.Helper()
	b, _ := pem.Decode([]byte(pubPEM))
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	vm := a.bundle["verificationMaterial"].(map[string]any)
	if got := vm["publicKey"].(map[string]any)["hint"]; got != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("public key hint %v", got)
	}
}

// TestHealMissingFormat: a digest that carries one format gets only the missing one.
func TestHealMissingFormat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := memRegistryAPI(t, false)
	for _, first := range []sign.SignatureFormat{sign.FormatLegacy, sign.FormatBundle} {
		d := pushRandom(t, host, "acme/app/"+string(first))
		if _, err := sharedKeySigner(t, 0, first).Sign(ctx, d); err != nil {
			t.Fatal(err)
		}
		res, err := sharedKeySigner(t, 0, sign.FormatBoth).Sign(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		want := sign.Result{Status: sign.StatusHealed, Identity: "key", RekorLogIndex: -1, Legacy: sign.AttachedNew, Bundle: sign.AttachedExisting,
			Verification: &sign.Verification{Format: sign.FormatBundle, Identity: "key"}}
		if first == sign.FormatLegacy {
			want.Legacy, want.Bundle = sign.AttachedExisting, sign.AttachedNew
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("after %s: Sign(both) (-want +got):\n%s", first, diff)
		}
		if n := signatureCount(t, d); n != 1 {
			t.Errorf("after %s: legacy signatures = %d, want 1", first, n)
		}
		if n := len(bundles(t, d)); n != 1 {
			t.Errorf("after %s: bundles = %d, want 1", first, n)
		}
	}
}

// TestVerifyFollowsFluxOrder: with a bundle attached, the bundle decides; a legacy signature
// that would verify does not rescue a bundle that does not (Flux 2.8 does not fall back).
// Without bundles, the legacy signature decides.
func TestVerifyFollowsFluxOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := memRegistryAPI(t, false)
	d := pushRandom(t, host, "acme/app/frontend")

	s := sharedKeySigner(t, 0, sign.FormatLegacy)
	if _, err := s.Sign(ctx, d); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Verification(ctx, d); err != nil || v.Format != sign.FormatLegacy {
		t.Fatalf("Verification(legacy only) = %+v, %v; want legacy", v, err)
	}
	if _, err := sharedKeySigner(t, 1, sign.FormatBundle).Sign(ctx, d); err != nil {
		t.Fatal(err)
	}
	err := s.Verify(ctx, d)
	if !errors.Is(err, sign.ErrVerify) || !strings.Contains(err.Error(), "does not fall back") {
		t.Errorf("Verify with a foreign bundle and our legacy signature = %v, want ErrVerify without fallback", err)
	}
	// Signing heals it: our bundle is added, and then verifies.
	res, err := sharedKeySigner(t, 0, sign.FormatBoth).Sign(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bundle != sign.AttachedNew || res.Legacy != sign.AttachedExisting {
		t.Errorf("Sign() = %+v, want a new bundle beside the existing legacy signature", res)
	}
	if v, err := s.Verification(ctx, d); err != nil || v.Format != sign.FormatBundle {
		t.Errorf("Verification() = %+v, %v; want the bundle", v, err)
	}
}

// TestSkipsReferrersThatAreNotBundles: other referrers of the digest (an SBOM, a broken bundle)
// neither count as bundles nor fail the verification, as in cosign and Flux.
func TestSkipsReferrersThatAreNotBundles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := memRegistryAPI(t, true)
	d := pushRandom(t, host, "acme/app/frontend")
	_, err := registry.PushReferrers(ctx, d, v1.Descriptor{}, []registry.Referrer{
		{ArtifactType: "application/spdx+json", Layers: []registry.Blob{{MediaType: "application/spdx+json", Data: []byte(`{}`)}}},
		{ArtifactType: sign.BundleMediaType, Layers: []registry.Blob{{MediaType: sign.BundleMediaType, Data: []byte(`not a bundle`)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := sharedKeySigner(t, 0, sign.FormatLegacy)
	if _, err := s.Sign(ctx, d); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Verification(ctx, d); err != nil || v.Format != sign.FormatLegacy {
		t.Errorf("Verification() = %+v, %v; want the legacy signature", v, err)
	}
}

// TestPublicKeyVerifies: verify and promote take the public key (cosign.pub) in cosign-key; it
// cannot sign.
func TestPublicKeyVerifies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pub := testKey(t, 0)
	host := memRegistryAPI(t, false)
	pubFile := t.TempDir() + "/cosign.pub"
	if err := os.WriteFile(pubFile, []byte(pub), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := sign.PublicKey(pubFile, ""); err != nil || string(got) != pub {
		t.Errorf("PublicKey(cosign.pub) = %q, %v", got, err)
	}
	for _, f := range []sign.SignatureFormat{sign.FormatLegacy, sign.FormatBundle} {
		d := pushRandom(t, host, "acme/app/"+string(f))
		if _, err := sharedKeySigner(t, 0, f).Sign(ctx, d); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{pub, pubFile} {
			v, err := sign.New(ctx, sign.Options{Mode: sign.ModeKey, Key: k})
			if err != nil {
				t.Fatalf("New with a public key: %v", err)
			}
			if got, err := v.Verification(ctx, d); err != nil || got.Format != f {
				t.Errorf("%s: Verification with the public key = %+v, %v", f, got, err)
			}
			other := pushRandom(t, host, "acme/app/unsigned")
			if _, err := v.Sign(ctx, other); err == nil || !strings.Contains(err.Error(), "public key") {
				t.Errorf("Sign with a public key = %v, want a refusal naming the public key", err)
			}
		}
	}
}

// TestProvenance: with provenance on, each digest gets a signed SLSA v1 provenance statement
// beside its signature, stored as cosign attest --new-bundle-format stores it.
func TestProvenance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, _ := testKey(t, 0)
	host := memRegistryAPI(t, false)
	d := pushRandom(t, host, "acme/app/frontend")
	s := keySigner(t, key, func(o *sign.Options) { o.Provenance = true })
	facts := sign.Provenance{
		Repository:  "acme/app",
		WorkflowRef: "acme/app/.github/workflows/release.yaml@refs/tags/frontend/v1.2.3",
		Ref:         "refs/tags/frontend/v1.2.3",
		EventName:   "push",
		RunID:       "4242",
		RunAttempt:  "2",
		Commit:      "0123456789abcdef0123456789abcdef01234567",
		Inputs:      map[string]string{"component": "frontend", "path": "apps/frontend", "ignore-paths": "*.md", "annotations": "team=web"},
		StartedOn:   time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC),
	}

	if _, err := s.Sign(ctx, d); err == nil || !strings.Contains(err.Error(), "provenance") {
		t.Errorf("Sign without the build facts = %v, want an error", err)
	}
	if _, err := s.Sign(ctx, d, sign.WithProvenance(sign.Provenance{Repository: "acme/app"})); err == nil || !strings.Contains(err.Error(), "GITHUB_SHA") {
		t.Errorf("Sign with incomplete facts = %v, want an error naming what is missing", err)
	}
	// A refused digest is refused whole: no format goes out beside the one that could not be
	// built. (The legacy signature once raced the provenance check and sometimes won.)
	if n, bs := signatureCount(t, d), bundles(t, d); n != 0 || len(bs) != 0 {
		t.Fatalf("after the refusals the digest carries %d legacy signatures and %d bundles, want none", n, len(bs))
	}
	res, err := s.Sign(ctx, d, sign.WithProvenance(facts))
	if err != nil {
		t.Fatal(err)
	}
	if res.Provenance != sign.AttachedNew || res.Bundle != sign.AttachedNew || res.Legacy != sign.AttachedNew {
		t.Errorf("Sign() = %+v, want all three new", res)
	}
	if diff := cmp.Diff(&sign.Verification{Format: sign.FormatBundle, Identity: "key", Provenance: true}, res.Verification); diff != "" {
		t.Errorf("Sign().Verification (-want +got):\n%s", diff)
	}
	var prov *attached
	bs := bundles(t, d)
	for i := range bs {
		if bs[i].predicateType() == sign.PredicateSLSAProvenance {
			prov = &bs[i]
		}
	}
	if len(bs) != 2 || prov == nil {
		t.Fatalf("bundles = %d, provenance %v; want a signature and a provenance", len(bs), prov != nil)
	}
	checkBundleLayout(t, d, *prov, sign.PredicateSLSAProvenance)
	got, err := json.MarshalIndent(prov.statement["predicate"], "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "buildDefinition": {
    "buildType": "` + sign.BuildType + `",
    "externalParameters": {
      "eventName": "push",
      "inputs": {
        "annotations": "team=web",
        "component": "frontend",
        "ignore-paths": "*.md",
        "path": "apps/frontend"
      },
      "workflow": {
        "path": ".github/workflows/release.yaml",
        "ref": "refs/tags/frontend/v1.2.3",
        "repository": "https://github.com/acme/app"
      }
    },
    "resolvedDependencies": [
      {
        "digest": {
          "gitCommit": "0123456789abcdef0123456789abcdef01234567"
        },
        "uri": "git+https://github.com/acme/app@refs/tags/frontend/v1.2.3"
      }
    ]
  },
  "runDetails": {
    "builder": {
      "id": "https://github.com/acme/app/.github/workflows/release.yaml@refs/tags/frontend/v1.2.3"
    },
    "metadata": {
      "invocationId": "https://github.com/acme/app/actions/runs/4242/attempts/2",
      "startedOn": "2026-04-01T12:00:00Z"
    }
  }
}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("provenance predicate (-want +got):\n%s", diff)
	}
	if v, err := s.Verification(ctx, d); err != nil || !v.Provenance || v.Format != sign.FormatBundle {
		t.Errorf("Verification() = %+v, %v; want the bundle and the provenance", v, err)
	}

	again, err := s.Sign(ctx, d, sign.WithProvenance(facts))
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != sign.StatusExisting || again.Provenance != sign.AttachedExisting {
		t.Errorf("re-run Sign() = %+v, want everything existing", again)
	}
	if n := len(bundles(t, d)); n != 2 {
		t.Errorf("bundles after a re-run = %d, want 2", n)
	}
}

func TestSignatureFormatInput(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]sign.SignatureFormat{"": sign.FormatBoth, "both": sign.FormatBoth, "bundle": sign.FormatBundle, "legacy": sign.FormatLegacy} {
		if got, err := sign.ParseSignatureFormat(in); err != nil || got != want {
			t.Errorf("ParseSignatureFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := sign.ParseSignatureFormat("v3"); err == nil || !strings.Contains(err.Error(), "signature-format") {
		t.Errorf("ParseSignatureFormat(v3) = %v, want an error naming the input", err)
	}
	if _, err := sign.New(context.Background(), sign.Options{Mode: sign.ModeKey, SignatureFormat: "v3"}); err == nil {
		t.Error("New with signature-format v3 succeeded")
	}
}

// TestTrustedRootInput: trusted-root takes a trusted_root.json as JSON or a file, refuses what
// is not one and what cannot verify keyless signatures, and excludes fulcio-root.
func TestTrustedRootInput(t *testing.T) {
	t.Parallel()
	caPEM, keyPEM := testRoot(t)
	trJSON := trustedRootJSON(t, caPEM, keyPEM, true)
	file := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(file, trJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	id := sign.ExpectedIdentity("", "acme/app", "", "refs/heads/main", "")
	tests := []struct {
		name string
		edit func(*sign.Options)
		want string // error, "" for none
	}{
		{name: "JSON", edit: func(o *sign.Options) { o.TrustedRoot = string(trJSON) }},
		{name: "file", edit: func(o *sign.Options) { o.TrustedRoot = file }},
		{name: "not JSON", edit: func(o *sign.Options) { o.TrustedRoot = `{"mediaType": 1}` }, want: "not a Sigstore trusted_root.json"},
		{name: "missing file", edit: func(o *sign.Options) { o.TrustedRoot = file + ".gone" }, want: "no such file: give the path of the file that holds a Sigstore trusted_root.json, or the JSON itself"},
		{name: "a device", edit: func(o *sign.Options) { o.TrustedRoot = "/dev/zero" }, want: `reading trusted-root "/dev/zero": it is a character device, not a regular file`},
		{name: "with fulcio-root", edit: func(o *sign.Options) { o.TrustedRoot, o.FulcioRoot = file, caPEM }, want: "not both"},
		{name: "no log", edit: func(o *sign.Options) { o.TrustedRoot = string(trustedRootJSON(t, caPEM, keyPEM, false)) }, want: "no transparency log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := sign.Options{Mode: sign.ModeKeyless, TLogUpload: true, Expected: id}
			tt.edit(&o)
			s, err := sign.New(context.Background(), o)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New() = %v", err)
				}
				if !strings.Contains(s.Snippet(), "trustedRootSecretRef:") {
					t.Errorf("Snippet() = %q, want trustedRootSecretRef for a private Sigstore", s.Snippet())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// trustedRootJSON is a trusted_root.json of the CA caPEM and, with log, the Rekor key keyPEM.
func trustedRootJSON(t *testing.T, caPEM, keyPEM string, log bool) []byte {
	t.Helper()
	b, _ := pem.Decode([]byte(caPEM))
	ca, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	logs := map[string]*root.TransparencyLog{}
	if log {
		kb, _ := pem.Decode([]byte(keyPEM))
		pub, err := x509.ParsePKIXPublicKey(kb.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		id := sha256.Sum256(kb.Bytes)
		logs[fmt.Sprintf("%x", id)] = &root.TransparencyLog{BaseURL: "https://rekor.example.com", ID: id[:], HashFunc: crypto.SHA256, PublicKey: pub, SignatureHashFunc: crypto.SHA256, ValidityPeriodStart: time.Now().Add(-time.Hour)}
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: ca, URI: "https://fulcio.example.com", ValidityPeriodStart: time.Now().Add(-time.Hour)}},
		map[string]*root.TransparencyLog{}, nil, logs)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestFresh: a digest this run just pushed is signed in every format without looking for
// existing signatures first, and the result is the same.
func TestFresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, _ := testKey(t, 0)
	host := memRegistryAPI(t, false)
	s := keySigner(t, key, func(o *sign.Options) { o.Provenance = true })
	d := pushRandom(t, host, "acme/app/fresh")
	res, err := s.Sign(ctx, d, sign.Fresh(true), sign.WithProvenance(sign.Provenance{Repository: "acme/app", WorkflowRef: "acme/app/.github/workflows/push.yaml@refs/heads/main", RunID: "1", Commit: "abc"}))
	if err != nil {
		t.Fatal(err)
	}
	want := sign.Result{Status: sign.StatusNew, Identity: "key", RekorLogIndex: -1, Legacy: sign.AttachedNew, Bundle: sign.AttachedNew, Provenance: sign.AttachedNew,
		Verification: &sign.Verification{Format: sign.FormatBundle, Identity: "key", Provenance: true}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Sign(fresh) (-want +got):\n%s", diff)
	}
	if v, err := s.Verification(ctx, d); err != nil || *res.Verification != v {
		t.Errorf("Verification() = %+v, %v; want what Sign said, %+v", v, err, *res.Verification)
	}
	if n, m := signatureCount(t, d), len(bundles(t, d)); n != 1 || m != 2 {
		t.Errorf("legacy signatures %d, bundles %d; want 1 and 2", n, m)
	}
}

// TestBundleNeedsSHA256: a bundle is checked (here and by Flux) against a sha256 digest, so a
// digest of another algorithm is refused before anything is written, the legacy signature too.
func TestBundleNeedsSHA256(t *testing.T) {
	t.Parallel()
	host := memRegistryAPI(t, false)
	key, _ := testKey(t, 0)
	ref, err := name.NewDigest(host + "/acme/app/frontend@sha512:" + strings.Repeat("ab", 64))
	if err != nil {
		t.Fatal(err)
	}
	s := keySigner(t, key, format(sign.FormatBoth))
	if _, err := s.Sign(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "only sha256 digests") {
		t.Errorf("Sign(sha512 digest) = %v, want a refusal naming sha256", err)
	}
}
