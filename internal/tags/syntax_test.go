package tags

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// TestTagSyntaxAsTheGrammar: ValidTag and hasBranchTagSuffix, checked by hand, agree with the
// regular expressions they stand for on strings made of the characters that matter, around the
// lengths that matter.
func TestTagSyntaxAsTheGrammar(t *testing.T) {
	t.Parallel()
	tagRE := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	suffixRE := regexp.MustCompile(`-[0-9a-f]{7,40}$`)
	const alphabet = "aZ09_.-fgA/: é\x00"
	r := rand.New(rand.NewPCG(1, 2))
	check := func(s string) {
		if got, want := ValidTag(s), tagRE.MatchString(s); got != want {
			t.Errorf("ValidTag(%q) = %v, the grammar says %v", s, got, want)
		}
		if got, want := hasBranchTagSuffix(s), suffixRE.MatchString(s); got != want {
			t.Errorf("hasBranchTagSuffix(%q) = %v, the grammar says %v", s, got, want)
		}
	}
	for range 20000 {
		n := r.IntN(135)
		b := make([]byte, 0, n)
		for range n {
			b = append(b, alphabet[r.IntN(len(alphabet))])
		}
		check(string(b))
		// A branch-like end: "-" and hex digits, 0 to 42 of them, after random text.
		hex := make([]byte, r.IntN(43))
		for i := range hex {
			hex[i] = "0123456789abcdefA"[r.IntN(17)]
		}
		check(string(b[:min(len(b), 20)]) + "-" + string(hex))
		// Tag characters only, around the 128 limit.
		valid := make([]byte, 120+r.IntN(15))
		for i := range valid {
			valid[i] = "aZ09_.-"[r.IntN(7)]
		}
		check(string(valid))
	}
}
