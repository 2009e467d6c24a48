package kustomize

import (
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The policy decides on what the decoder yields, not on the text: an
// alias stands for its anchor, a merge key ("<<") brings in the entries
// of the mappings it names, and a List stands for its items, as
// kustomize (kyaml's DeAnchor, its List unwrapping) and kubectl read
// them. These helpers follow aliases and merges without copying, within
// the depth the guard allows.

// resolve follows n's aliases to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > maxYAMLDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

// entry is a key of a mapping and its value, aliases followed.
type entry struct{ key, val *yaml.Node }

// entries returns every entry for key in mapping m: its own first, in
// order (a repeated key is kept: which one a reader takes differs between
// readers, so the policy looks at all), then those its merge keys bring
// in.
func entries(m *yaml.Node, key string) []entry {
	var out []entry
	seen := map[*yaml.Node]bool{}
	var walk func(m *yaml.Node, depth int)
	walk = func(m *yaml.Node, depth int) {
		m = resolve(m)
		if m == nil || m.Kind != yaml.MappingNode || depth > maxYAMLDepth || seen[m] {
			return
		}
		seen[m] = true
		var merges []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := m.Content[i]
			switch {
			case k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge":
				merges = append(merges, m.Content[i+1])
			case resolve(k) != nil && resolve(k).Kind == yaml.ScalarNode && resolve(k).Value == key:
				if v := resolve(m.Content[i+1]); v != nil {
					out = append(out, entry{key: k, val: v})
				}
			}
		}
		for _, v := range merges {
			v = resolve(v)
			if v != nil && v.Kind == yaml.SequenceNode {
				for _, c := range v.Content {
					walk(c, depth+1)
				}
				continue
			}
			walk(v, depth+1)
		}
	}
	walk(m, 0)
	return out
}

// fields returns the values of entries(m, key).
func fields(m *yaml.Node, key string) []*yaml.Node {
	var out []*yaml.Node
	for _, e := range entries(m, key) {
		out = append(out, e.val)
	}
	return out
}

// field returns the value of key in mapping m that a reader takes (its own
// entry, else the first a merge brings in), or nil.
func field(m *yaml.Node, key string) *yaml.Node {
	if f := fields(m, key); len(f) > 0 {
		return f[0]
	}
	return nil
}

// scalarField returns the text of a scalar field of m, "" if absent.
func scalarField(m *yaml.Node, key string) string {
	if f := field(m, key); f != nil && f.Kind == yaml.ScalarNode {
		return f.Value
	}
	return ""
}

// listItems returns the items of a List: a kind ending in "List" with an
// items field, a sequence or null (no items), as kustomize unwraps them.
func listItems(m *yaml.Node) ([]*yaml.Node, bool) {
	if !strings.HasSuffix(scalarField(m, "kind"), "List") {
		return nil, false
	}
	items := field(m, "items")
	switch {
	case items == nil:
		return nil, false
	case items.Kind == yaml.SequenceNode:
		return items.Content, true
	case items.Kind == yaml.ScalarNode && items.Tag == "!!null":
		return nil, true
	}
	return nil, false
}
