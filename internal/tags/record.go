package tags

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Prefixes of the tags fleetpush writes for its own bookkeeping (package
// tagger): release claims and promotion records. They are reserved: no
// channel may start with them (ValidateChannel), and IsRecord tells them
// from releases, branch builds and channels.
const (
	ClaimPrefix     = "fleetpush-claim."
	PromotionPrefix = "fleetpush-promotion."
)

// NonceLength is the number of lower-case hex digits of a claim's nonce.
const NonceLength = 16

// ClaimTag returns the tag of one writer's claim on release version version:
// ClaimPrefix, the version, "." and the writer's nonce (NonceLength
// lower-case hex digits). A version too long to fit is replaced by "h" and
// the first 16 hex digits of its SHA-256, which no version can be mistaken
// for, since versions start with "v".
//
// A claim tag never looks like a version (it starts with "f") and never ends
// like a branch build (its last part follows a '.', not a '-').
func ClaimTag(version, nonce string) string {
	return ClaimTagPrefix(version) + nonce
}

// ClaimTagPrefix is what every claim tag of version starts with: list the
// tags and keep those with this prefix and a valid nonce after it
// (IsClaimOf).
func ClaimTagPrefix(version string) string {
	return ClaimPrefix + fitted(version, MaxTagLength-len(ClaimPrefix)-1-NonceLength) + "."
}

// IsClaimOf reports whether tag is a claim tag of version.
func IsClaimOf(tag, version string) bool {
	rest, ok := strings.CutPrefix(tag, ClaimTagPrefix(version))
	return ok && isNonce(rest)
}

// PromotionTag returns the tag of the promotion record of channel:
// PromotionPrefix and the channel ("fleetpush-promotion.latest-stable"), or
// "h" and 16 hex digits of its SHA-256 when the channel is too long to fit.
func PromotionTag(channel string) string {
	return PromotionPrefix + fitted(channel, MaxTagLength-len(PromotionPrefix))
}

// IsRecord reports whether tag is one of fleetpush's own records (a claim
// or a promotion record), not an artifact. A branch build of a branch named
// like a record still ends in "-" and hex digits, and is not a record.
func IsRecord(tag string) bool {
	if hasBranchTagSuffix(tag) {
		return false
	}
	return strings.HasPrefix(tag, ClaimPrefix) || strings.HasPrefix(tag, PromotionPrefix)
}

// reservedPrefix returns the record prefix tag starts with, or "".
func reservedPrefix(tag string) string {
	for _, p := range []string{ClaimPrefix, PromotionPrefix} {
		if strings.HasPrefix(tag, p) {
			return p
		}
	}
	return ""
}

// fitted returns s if it is at most n bytes long, else "h" and 16 hex digits
// of its SHA-256.
func fitted(s string, n int) string {
	if len(s) <= n {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(sum[:8])
}

func isNonce(s string) bool {
	return len(s) == NonceLength && strings.Trim(s, "0123456789abcdef") == ""
}

// ValidNonce checks a claim nonce: NonceLength lower-case hex digits.
func ValidNonce(nonce string) error {
	if !isNonce(nonce) {
		return fmt.Errorf("claim nonce %q is not %d lower-case hex digits", nonce, NonceLength)
	}
	return nil
}
