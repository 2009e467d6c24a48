// Package sign owns signing and signature verification of published artifacts: keyless signing
// through a GitHub Actions OIDC token, Fulcio and Rekor; signing with a cosign key; and the check
// that Flux's source-controller will make before it accepts an artifact.
//
// It is the only package of fleetpush that imports sigstore (cosign, Fulcio and Rekor clients);
// the rest of the program sees the small Signer interface and plain values, which keeps
// sigstore's large dependency tree in one place. depcheck_test.go holds that line.
//
// Signatures are written in cosign's legacy layout (a `sha256-<hex>.sig` tag next to the signed
// digest holding simple-signing layers with the certificate, chain and Rekor bundle as
// annotations): every Flux version verifies that layout.
package sign
