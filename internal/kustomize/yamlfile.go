package kustomize

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
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
}

// yamlFile is a parsed YAML file.
type yamlFile struct {
	path string
	docs []*yamlDoc
	err  error // parse error, with errLine
	line int
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// yaml.v3 reports the line of a parser error (unlike a scanner error) from
// a 0-based mark; these messages are the parser's.
var yamlParserErrors = []string{
	"did not find expected ',' or", "did not find expected key", "did not find expected node content",
	"did not find expected '-' indicator", "did not find expected <document start>",
	"found undefined tag handle", "found duplicate %", "found incompatible YAML document",
}

// parseYAML parses every document of data, keeping line numbers. A parse
// error is recorded in the file, with its line when yaml reports one.
func parseYAML(path string, data []byte) *yamlFile {
	f := &yamlFile{path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return f
		}
		if err != nil {
			f.err = err
			if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
				f.line, _ = strconv.Atoi(m[1])
				rest := err.Error()[len(m[0]):]
				for _, p := range yamlParserErrors {
					if strings.HasPrefix(rest, p) {
						f.line++
						break
					}
				}
			}
			return f
		}
		if err := checkNode(&n, 0); err != nil {
			f.err = err
			return f
		}
		if err := checkAliases(&n); err != nil {
			f.err = err
			f.line = n.Line
			return f
		}
		d := &yamlDoc{file: path, node: &n, line: n.Line}
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			root := n.Content[0]
			d.line = root.Line
			if k := mapValue(root, "kind"); k != nil && k.Kind == yaml.ScalarNode {
				d.kind = k.Value
			}
			if md := mapValue(root, "metadata"); md != nil {
				if nm := mapValue(md, "name"); nm != nil && nm.Kind == yaml.ScalarNode {
					d.name = nm.Value
				}
			}
		}
		f.docs = append(f.docs, d)
	}
}

// maxYAMLDepth bounds nesting, so a hostile file cannot exhaust the stack of
// the recursive walkers (kyaml's and ours).
const maxYAMLDepth = 500

func checkNode(n *yaml.Node, depth int) error {
	if depth > maxYAMLDepth {
		return fmt.Errorf("yaml: line %d: nesting deeper than %d levels", n.Line, maxYAMLDepth)
	}
	for _, c := range n.Content {
		if err := checkNode(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// Aliases are expanded by kyaml when kustomize reads a file, so a small
// file of nested aliases ("billion laughs") would expand to gigabytes. A
// document may expand to at most maxExpandedNodes nodes, or to
// aliasRatio times its own size, whichever is larger.
const (
	maxExpandedNodes = 200_000
	aliasRatio       = 10
)

func checkAliases(doc *yaml.Node) error {
	literal := 0
	memo := map[*yaml.Node]int{}
	var expanded func(n *yaml.Node, depth int) int
	expanded = func(n *yaml.Node, depth int) int {
		if v, ok := memo[n]; ok {
			return v
		}
		if depth > maxYAMLDepth {
			return maxExpandedNodes + 1
		}
		memo[n] = maxExpandedNodes + 1 // an alias cycle counts as too large
		total := 1
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			total += expanded(n.Alias, depth+1)
		}
		for _, c := range n.Content {
			total += expanded(c, depth+1)
			if total > 1<<40 {
				break
			}
		}
		memo[n] = total
		return total
	}
	var count func(n *yaml.Node)
	count = func(n *yaml.Node) {
		literal++
		for _, c := range n.Content {
			count(c)
		}
	}
	count(doc)
	if e := expanded(doc, 0); e > max(maxExpandedNodes, aliasRatio*literal) {
		return fmt.Errorf("yaml: document expands its aliases to more than %d nodes; refusing it as a YAML bomb", max(maxExpandedNodes, aliasRatio*literal))
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

// fieldPath splits "spec.containers[0].image" into its segments; an index
// segment is "[0]".
func fieldPath(p string) []string {
	var segs []string
	for _, part := range strings.Split(p, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			switch {
			case i < 0:
				segs = append(segs, part)
				part = ""
			case i > 0:
				segs = append(segs, part[:i])
				part = part[i:]
			default:
				j := strings.IndexByte(part, ']')
				if j < 0 {
					segs = append(segs, part)
					part = ""
					continue
				}
				segs = append(segs, part[:j+1])
				part = part[j+1:]
			}
		}
	}
	return segs
}

// lookup follows path from n. It returns the line of the deepest node found
// (the key's line for a mapping entry), the node found at the full path (nil
// when the path does not exist) and whether the full path was found.
func lookup(n *yaml.Node, segs []string) (line int, leaf *yaml.Node, ok bool) {
	line = n.Line
	cur := n
	for _, s := range segs {
		if cur.Kind == yaml.AliasNode && cur.Alias != nil {
			cur = cur.Alias
		}
		if strings.HasPrefix(s, "[") {
			idx, err := strconv.Atoi(strings.Trim(s, "[]"))
			if err != nil || cur.Kind != yaml.SequenceNode || idx < 0 || idx >= len(cur.Content) {
				return line, nil, false
			}
			cur = cur.Content[idx]
			line = cur.Line
			continue
		}
		if cur.Kind != yaml.MappingNode {
			return line, nil, false
		}
		found := false
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == s {
				line = cur.Content[i].Line
				cur = cur.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line, nil, false
		}
	}
	return line, cur, true
}
