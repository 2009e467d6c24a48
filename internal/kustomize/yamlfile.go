package kustomize

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// yamlDoc is one document of a YAML file, kept with its line numbers.
type yamlDoc struct {
	file string // path inside the artifact
	node *yaml.Node
	kind string
	name string
	line int
	// size is what the document costs once kustomize copied its aliases.
	size expansion
}

// yamlFile is a parsed YAML file.
type yamlFile struct {
	path string
	docs []*yamlDoc
	err  error // parse error, with errLine
	line int
	// nodes and aliasBytes are what decoding it cost, aliases copied: the
	// run's budget is charged with them.
	nodes, aliasBytes int64
	// byID finds the first document of a kind and name, byKind the
	// documents of a kind, so finding an object's origin does not scan
	// every document for every object (which made validation quadratic).
	byID   map[string]*yamlDoc
	byKind map[string][]*yamlDoc
	// pieces are the documents after a syntax error, as kustomize's reader
	// splits the file (see decoded.pieces).
	pieces []pieceDoc
}

// docID is the key of byID.
func docID(kind, name string) string { return kind + "\x00" + name }

// index fills byID and byKind. A file is indexed once, before builds read
// it concurrently.
func (f *yamlFile) index() {
	f.byID, f.byKind = map[string]*yamlDoc{}, map[string][]*yamlDoc{}
	for _, d := range f.docs {
		if d.kind == "" {
			continue
		}
		f.byKind[d.kind] = append(f.byKind[d.kind], d)
		if _, dup := f.byID[docID(d.kind, d.name)]; !dup {
			f.byID[docID(d.kind, d.name)] = d
		}
	}
}

// parseYAML parses every document of data through the guard, keeping
// line numbers. A refusal is recorded in the file, with its line.
func parseYAML(path string, data []byte) *yamlFile {
	f := &yamlFile{path: path}
	nodes, dec, err := decodeMeasured(data, 1)
	f.aliasBytes, f.pieces = dec.aliasBytes, dec.pieces
	if err != nil {
		f.err = err
		var ye *yamlError
		if errors.As(err, &ye) {
			f.line = ye.Line
		}
	}
	for i, n := range nodes {
		d := &yamlDoc{file: path, node: n, line: n.Line}
		if i < len(dec.sizes) {
			d.size = dec.sizes[i]
			f.nodes = min(saturated, f.nodes+d.size.nodes)
		}
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			root := n.Content[0]
			d.line = root.Line
			// As the decoder yields them: through aliases and merge keys.
			d.kind = scalarField(root, "kind")
			d.name = scalarField(field(root, "metadata"), "name")
		}
		f.docs = append(f.docs, d)
	}
	f.index()
	return f
}

// limitErr returns the guard's refusal of the file, if it broke a limit.
func (f *yamlFile) limitErr() *yamlError {
	var ye *yamlError
	if errors.As(f.err, &ye) && ye.Limit {
		return ye
	}
	return nil
}

// mapValue returns the value node of key in mapping node m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// root returns the top node of the document.
func (d *yamlDoc) root() *yaml.Node {
	if d.node.Kind == yaml.DocumentNode && len(d.node.Content) == 1 {
		return d.node.Content[0]
	}
	return d.node
}

// A field path names a field of an object the way the type checks print
// it: keys joined by "." and list indexes as "[0]", as in
// "spec.containers[0].image". Keys may themselves hold "." or "[" (a
// label key "app.kubernetes.io/name", a hostile key), so a path is not
// split up front: it is matched against the keys that are there.

// maxPathSteps bounds the matching of one path, which backtracks when
// keys are prefixes of each other ("a", "a.b").
const maxPathSteps = 10_000

// pathIndex reads a leading "[i]" of rest, returning i and what follows.
func pathIndex(rest string) (int, string, bool) {
	if !strings.HasPrefix(rest, "[") {
		return 0, "", false
	}
	j := strings.IndexByte(rest, ']')
	if j < 0 {
		return 0, "", false
	}
	i, err := strconv.Atoi(rest[1:j])
	if err != nil || i < 0 {
		return 0, "", false
	}
	return i, strings.TrimPrefix(rest[j+1:], "."), true
}

// pathKey reports whether rest starts with key as a whole segment, and
// what follows it.
func pathKey(rest, key string) (string, bool) {
	after, ok := strings.CutPrefix(rest, key)
	switch {
	case !ok:
		return "", false
	case after == "":
		return "", true
	case after[0] == '.':
		return after[1:], true
	case after[0] == '[':
		return after, true
	}
	return "", false
}

// lookup follows path p from n. It returns the line of the deepest node
// found (the key's line for a mapping entry), the node found at the full
// path (nil when the path does not exist) and whether the full path was
// found.
func lookup(n *yaml.Node, p string) (line int, leaf *yaml.Node, ok bool) {
	best, bestDepth, steps := n.Line, -1, 0
	var walk func(cur *yaml.Node, rest string, line, depth int) (*yaml.Node, int, bool)
	walk = func(cur *yaml.Node, rest string, line, depth int) (*yaml.Node, int, bool) {
		if steps++; steps > maxPathSteps {
			return nil, 0, false
		}
		if depth > bestDepth {
			best, bestDepth = line, depth
		}
		if rest == "" {
			return cur, line, true
		}
		if cur.Kind == yaml.AliasNode && cur.Alias != nil {
			cur = cur.Alias
		}
		if i, after, isIndex := pathIndex(rest); isIndex {
			if cur.Kind != yaml.SequenceNode || i >= len(cur.Content) {
				return nil, 0, false
			}
			c := cur.Content[i]
			return walk(c, after, c.Line, depth+1)
		}
		if cur.Kind != yaml.MappingNode {
			return nil, 0, false
		}
		for i := 0; i+1 < len(cur.Content); i += 2 {
			k := cur.Content[i]
			if after, match := pathKey(rest, k.Value); match {
				if leaf, l, ok := walk(cur.Content[i+1], after, k.Line, depth+1); ok {
					return leaf, l, true
				}
			}
		}
		return nil, 0, false
	}
	if leaf, l, ok := walk(n, p, n.Line, 0); ok {
		return l, leaf, true
	}
	return best, nil, false
}

// valueAt returns the scalar at path p of a decoded object, as text.
func valueAt(v any, p string) (string, bool) {
	steps := 0
	var walk func(v any, rest string) (any, bool)
	walk = func(v any, rest string) (any, bool) {
		if steps++; steps > maxPathSteps {
			return nil, false
		}
		if rest == "" {
			return v, true
		}
		if i, after, isIndex := pathIndex(rest); isIndex {
			a, ok := v.([]any)
			if !ok || i >= len(a) {
				return nil, false
			}
			return walk(a[i], after)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		// The exact key first: it is the common case and never ambiguous.
		if val, ok := m[rest]; ok {
			return val, true
		}
		for _, k := range sortedKeys(m) {
			if after, match := pathKey(rest, k); match && after != "" {
				if val, ok := walk(m[k], after); ok {
					return val, true
				}
			}
		}
		return nil, false
	}
	v, ok := walk(v, p)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}
