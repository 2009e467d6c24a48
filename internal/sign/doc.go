// Package sign owns signing and signature verification of published artifacts: keyless signing
// through a GitHub Actions OIDC token, Fulcio and Rekor; signing with a cosign key; and the check
// that Flux's source-controller will make before it accepts an artifact.
//
// It is the only package of fleetpush that imports sigstore (cosign, Fulcio and Rekor clients);
// the rest of the program sees the small Signer interface and plain values, which keeps
// sigstore's large dependency tree in one place. depcheck_test.go holds that line.
//
// Signatures are written in the formats Options.SignatureFormat asks for (both by default):
//   - cosign's legacy layout, a `sha256-<hex>.sig` tag next to the signed digest holding
//     simple-signing layers with the certificate, chain and Rekor entry as annotations, which
//     every Flux version verifies;
//   - a Sigstore bundle (v0.3: a DSSE envelope over an in-toto statement, the certificate or
//     key hint, the Rekor v1 entry with its inclusion proof) stored as an OCI 1.1 referrer of
//     the digest, as cosign v3 signs by default and Flux 2.8 and later read first.
//
// With Options.Provenance, a SLSA v1 provenance statement is signed the same way and attached
// as a second bundle referrer (what `cosign attest --new-bundle-format` writes). Verification
// follows Flux: the bundles when there are any, else the legacy signature.
package sign
