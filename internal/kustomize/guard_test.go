package kustomize

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestDecodeGuarded(t *testing.T) {
	t.Parallel()
	shared := "env: &env\n" + strings.Repeat("  - {name: A, value: b}\n", 50) + "a: *env\nb: *env\nc: *env\n"
	tests := []struct {
		name  string
		in    string
		line  int    // of the refusal, 0 when accepted
		limit bool   // a limit, not a syntax error
		msg   string // part of the message
	}{
		{name: "anchors used as intended", in: shared},
		{name: "merge keys", in: "base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  c: 3\n"},
		{name: "aliases across documents", in: "a: &a [1, 2]\n---\nb: *a\n"},
		{name: "billion laughs", in: laughs(""), line: 2, limit: true, msg: "more than 100000 nodes"},
		{name: "budget shared by documents", in: strings.Repeat("a: &a ["+strings.Repeat("x,", 999)+"x]\nb: ["+strings.TrimSuffix(strings.Repeat("*a,", 60), ",")+"]\n---\n", 2),
			line: 5, limit: true, msg: "more than 100000 nodes"},
		{name: "cycle", in: "a: &a [1, *a]\n", line: 1, limit: true, msg: "contains an alias of itself"},
		{name: "deep", in: strings.Repeat("- ", 10) + strings.Repeat("[", 501) + strings.Repeat("]", 501) + "\n", line: 1, limit: true, msg: "nested deeper than 500"},
		{name: "deep through aliases", in: deepAliases(30, 20), limit: true, msg: "aliases nest deeper than 500"},
		{name: "syntax error", in: "a: [1\n", line: 2, msg: "did not find expected ',' or ']'"},
		// kustomize splits at "---" lines and reads the pieces after a
		// broken one: the guard must see them too.
		{name: "bomb after a syntax error", in: "a: [1\n---\n" + laughs(""), line: 4, limit: true, msg: "more than 100000 nodes"},
		{name: "bomb after a separator yaml.v3 does not split at", in: "a: |\n  x\n---#\n" + laughs(""), line: 5, limit: true, msg: "more than 100000 nodes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeGuarded([]byte(tc.in))
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ye *yamlError
			if !errors.As(err, &ye) {
				t.Fatalf("error = %v, want a *yamlError", err)
			}
			if ye.Limit != tc.limit || !strings.Contains(ye.Msg, tc.msg) || tc.line > 0 && ye.Line != tc.line {
				t.Errorf("error = %+v, want line %d, limit %t, message with %q", ye, tc.line, tc.limit, tc.msg)
			}
		})
	}
}

// deepAliases nests n anchors, each depth levels deep inside the last.
func deepAliases(n, depth int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 x\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "a%d: &a%d %s*a%d%s\n", i, i, strings.Repeat("[", depth), i-1, strings.Repeat("]", depth))
	}
	return b.String()
}

// FuzzDecodeGuarded checks the guard against kyaml itself: whatever the
// guard accepts, kyaml's alias expansion (what kustomize runs on every
// document it reads) stays within the limits, and the guard never panics.
func FuzzDecodeGuarded(f *testing.F) {
	for _, s := range []string{
		"a: &a [x, x]\nb: [*a, *a]\n", laughs(""), "a: &a [1, *a]\n", "base: &b {a: 1}\nx:\n  <<: *b\n",
		"a: [1\n---\nb: &b [x]\nc: [*b]\n", "- &a x\n- *a\n---\n- *a\n", strings.Repeat("[", 600),
		"a: &a \"" + strings.Repeat("x", 1000) + "\"\nb: [*a, *a, *a]\n", "a: |\n  b: &b [x]\n  c: [*b, *b]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := decodeGuarded(data)
		if err != nil {
			return
		}
		var literalNodes, literalBytes, expNodes, expBytes int64
		for _, d := range docs {
			n, b, _ := measureTree(d)
			literalNodes += n
			literalBytes += b
			rn := yaml.NewRNode(d)
			if err := deAnchor(rn); err != nil {
				return // kustomize refuses it too
			}
			n, b, depth := measureTree(rn.YNode())
			expNodes += n
			expBytes += b
			if depth > maxYAMLDepth+1 {
				t.Fatalf("accepted a document %d levels deep once expanded", depth)
			}
		}
		if expNodes-literalNodes > maxAliasNodes || expBytes-literalBytes > maxAliasBytes {
			t.Fatalf("accepted aliases adding %d nodes and %d bytes", expNodes-literalNodes, expBytes-literalBytes)
		}
	})
}

// deAnchor runs kyaml's expansion, turning its panics into errors.
func deAnchor(rn *yaml.RNode) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("kyaml panicked")
		}
	}()
	return rn.DeAnchor()
}

// measureTree counts the nodes, scalar bytes and depth of n, aliases
// counted as one node.
func measureTree(n *yaml.Node) (nodes, bytes int64, depth int) {
	nodes = 1
	if n.Kind != yaml.AliasNode {
		bytes = int64(len(n.Value))
	}
	for _, c := range n.Content {
		cn, cb, cd := measureTree(c)
		nodes += cn
		bytes += cb
		depth = max(depth, cd)
	}
	return nodes, bytes, depth + 1
}
