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

// Every byte of YAML that kustomize may parse goes through decodeGuarded
// first, whatever the file is called and wherever the text sits (a file,
// an inline patch, a generator's inline configuration). kustomize's reader
// replaces every alias by a copy of its anchor (kyaml's DeAnchor) with no
// limit, so a few hundred bytes of nested aliases ("billion laughs") grow
// into gigabytes before kustomize returns; a deep or cyclic alias graph
// exhausts the stack of its recursive walkers. The guard measures what the
// copy would cost on the node tree that yaml.v3 builds without expanding
// anything, memoizing the size of each anchored node, so it runs in time
// and memory linear in the input.
const (
	// maxYAMLDepth bounds nesting, aliases followed, so a hostile file
	// cannot exhaust the stack of the recursive walkers (kyaml's and ours).
	// Kubernetes objects nest a few tens of levels.
	maxYAMLDepth = 500
	// maxAliasNodes bounds the nodes that expanding aliases adds to one
	// input. Anchors in manifests share a list of env vars or a block of
	// labels: hundreds of nodes. Each node costs kyaml about 200 bytes, and
	// kustomize copies every object several times during a build.
	maxAliasNodes = 100_000
	// maxAliasBytes bounds the scalar bytes that expanding aliases adds to
	// one input: an alias of one long string copies no node count to speak
	// of, but every copy is written out in full when objects are rendered.
	maxAliasBytes = 4 << 20
	// saturated stands for "more than any limit" and keeps the sums of a
	// deeply nested alias graph from overflowing.
	saturated = int64(1) << 50
)

// yamlError is why decodeGuarded refused its input.
type yamlError struct {
	// Line is the 1-based line of the input where the problem is, or 0.
	Line int
	// Msg says what is wrong, without the line.
	Msg string
	// Limit is true when the input is well-formed YAML that breaks one of
	// the guard's limits (it is refused whatever its name), false when it
	// is not YAML at all (which only matters when kustomize reads it).
	Limit bool
}

func (e *yamlError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// decodeGuarded decodes every YAML document of data, keeping aliases as
// they are, and refuses it if expanding them would go over the limits.
// On a syntax error it still guards the rest of the input the way
// kustomize's reader splits it (at lines starting with "---"), since
// kustomize may read documents that the error stopped yaml.v3 from
// reaching. The error is a *yamlError.
//
// The strings of the documents are guarded in turn (see guardStrings).
// The size of the input is bounded before it gets here: a file by the
// max-file-size limit as it is read, a string by the file it is in.
func decodeGuarded(data []byte) ([]*yaml.Node, error) {
	docs, _, err := decodeMeasured(data, 1)
	return docs, err
}

// decoded is what decodeMeasured learnt of an input beyond its documents.
type decoded struct {
	sizes      []expansion // of each document, aliases copied
	aliasBytes int64       // scalar bytes that copying aliases adds to the text
	// pieces are the documents of the input as kustomize's reader splits
	// it, when a syntax error stopped yaml.v3 before the end: the text
	// after the error is published all the same, and kustomize may read it.
	pieces []pieceDoc
}

// pieceDoc is a document of a piece, with the line of the input where the
// piece starts.
type pieceDoc struct {
	node *yaml.Node
	line int // add line-1 to a line of node to get a line of the input
}

// decodeMeasured is decodeGuarded that also returns what each document
// costs once its aliases are copied, as kustomize copies them: the
// budgets of a run and of a build are charged with these sizes, not with
// the text's.
func decodeMeasured(data []byte, level int) ([]*yaml.Node, decoded, error) {
	g := &guard{level: level}
	docs, err := g.decode(data, 0)
	d := decoded{sizes: g.sizes, aliasBytes: g.aliasBytes}
	var ye *yamlError
	if err != nil && errors.As(err, &ye) && !ye.Limit {
		// A budget of its own: the pieces repeat the documents read so far.
		g := &guard{level: level}
		for _, piece := range kustomizePieces(data) {
			pdocs, perr := g.decode(piece.data, piece.line-1)
			if perr != nil && errors.As(perr, &ye) && ye.Limit {
				return nil, decoded{}, perr
			}
			for _, n := range pdocs {
				d.pieces = append(d.pieces, pieceDoc{node: n, line: piece.line})
			}
		}
		d.aliasBytes = max(d.aliasBytes, g.aliasBytes)
	}
	return docs, d, err
}

// decodeAt is decodeGuarded for YAML found level-1 strings deep.
func decodeAt(data []byte, level int) ([]*yaml.Node, error) {
	docs, _, err := decodeMeasured(data, level)
	return docs, err
}

// guard carries the alias budget across the documents of one input.
type guard struct {
	aliasNodes int64
	aliasBytes int64
	level      int         // of nesting in strings, 1 for a file
	sizes      []expansion // of each document decode returned, aliases copied
}

func (g *guard) decode(data []byte, lineOffset int) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			// yaml.v3 panics on a few internal errors instead of
			// returning them: the input is not YAML we can read.
			docs, err = nil, &yamlError{Msg: fmt.Sprintf("cannot parse: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	// Node sizes are memoized across documents: yaml.v3 lets a document
	// alias an anchor of an earlier one.
	sizes := map[*yaml.Node]expansion{}
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			line, msg := syntaxLine(err)
			if line > 0 {
				line += lineOffset
			}
			return docs, &yamlError{Line: line, Msg: msg}
		}
		if err := g.check(&n, sizes, lineOffset); err != nil {
			return docs, err
		}
		if e := guardStrings(&n, g.level); e != nil {
			e.Line += lineOffset
			return docs, e
		}
		docs = append(docs, &n)
		g.sizes = append(g.sizes, sizes[&n])
	}
}

// expansion is what a node costs once its aliases are copied.
type expansion struct {
	nodes, bytes int64
	depth        int
}

func (g *guard) check(doc *yaml.Node, sizes map[*yaml.Node]expansion, lineOffset int) error {
	// The tree as parsed: its depth, and its size without copies.
	var literalNodes, literalBytes int64
	deepest := (*yaml.Node)(nil)
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if deepest != nil {
			return
		}
		if depth > maxYAMLDepth {
			deepest = n
			return
		}
		literalNodes++
		if n.Kind != yaml.AliasNode {
			literalBytes += int64(len(n.Value))
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(doc, 0)
	if deepest != nil {
		return &yamlError{Line: deepest.Line + lineOffset, Limit: true,
			Msg: fmt.Sprintf("nested deeper than %d levels (the limit)", maxYAMLDepth)}
	}
	// The tree as kustomize would copy it. An alias cycle (an anchor that
	// contains an alias of itself, which kyaml would copy until the stack
	// overflows) counts as too deep.
	var bad *yaml.Node
	measuring := map[*yaml.Node]bool{}
	var measure func(n *yaml.Node, depth int) expansion
	measure = func(n *yaml.Node, depth int) expansion {
		if e, ok := sizes[n]; ok {
			return e
		}
		if bad != nil || depth > maxYAMLDepth {
			if bad == nil {
				bad = n
			}
			return expansion{nodes: saturated, bytes: saturated, depth: maxYAMLDepth + 1}
		}
		var e expansion
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			if measuring[n.Alias] {
				bad = n // a cycle: the anchor contains this alias of itself
				return expansion{nodes: saturated, bytes: saturated, depth: maxYAMLDepth + 1}
			}
			// kyaml replaces the alias by a copy of the anchored node.
			e = measure(n.Alias, depth)
		} else {
			measuring[n] = true
			defer delete(measuring, n)
			e = expansion{nodes: 1, bytes: int64(len(n.Value)), depth: 1}
			for _, c := range n.Content {
				ce := measure(c, depth+1)
				e.nodes = min(saturated, e.nodes+ce.nodes)
				e.bytes = min(saturated, e.bytes+ce.bytes)
				e.depth = max(e.depth, ce.depth+1)
			}
		}
		sizes[n] = e
		return e
	}
	e := measure(doc, 0)
	if bad != nil || e.depth > maxYAMLDepth {
		line := doc.Line
		if bad != nil {
			line = bad.Line
		}
		return &yamlError{Line: line + lineOffset, Limit: true,
			Msg: fmt.Sprintf("YAML bomb: its aliases nest deeper than %d levels (the limit), or an anchor contains an alias of itself", maxYAMLDepth)}
	}
	g.aliasNodes = min(saturated, g.aliasNodes+max(0, e.nodes-literalNodes))
	g.aliasBytes = min(saturated, g.aliasBytes+max(0, e.bytes-literalBytes))
	switch {
	case g.aliasNodes > maxAliasNodes:
		return &yamlError{Line: firstAlias(doc) + lineOffset, Limit: true,
			Msg: fmt.Sprintf("YAML bomb: its aliases expand to more than %d nodes beyond the text (the limit); write the repeated parts out instead of aliasing them", maxAliasNodes)}
	case g.aliasBytes > maxAliasBytes:
		return &yamlError{Line: firstAlias(doc) + lineOffset, Limit: true,
			Msg: fmt.Sprintf("YAML bomb: its aliases expand to more than %d bytes beyond the text (the limit); write the repeated parts out instead of aliasing them", maxAliasBytes)}
	}
	return nil
}

// maxStringNesting is how deep guardStrings looks for YAML inside strings
// inside YAML: kustomize parses the text of a string as YAML (an inline
// patch, a plugin configuration, a replacement into structured data), and
// an inline configuration may hold an inline patch; nothing parses deeper.
const maxStringNesting = 3

// guardStrings guards the YAML that may hide in the strings of n, found
// level strings deep. An alias bomb needs an anchor (&) and an alias (*),
// so only strings holding both are parsed; each is a part of the input,
// so the work stays linear in it for each level. The error's line is a
// line of n's input.
func guardStrings(n *yaml.Node, level int) *yamlError {
	if level >= maxStringNesting {
		return nil
	}
	var found *yamlError
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if found != nil || depth > maxYAMLDepth {
			return
		}
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "&") && strings.Contains(n.Value, "*") {
			_, err := decodeAt([]byte(n.Value), level+1)
			var ye *yamlError
			if errors.As(err, &ye) && ye.Limit {
				msg := ye.Msg
				if !strings.HasPrefix(msg, stringPrefix) {
					msg = stringPrefix + msg
				}
				found = &yamlError{Line: scalarLine(n, ye.Line), Limit: true, Msg: msg}
				return
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return found
}

const stringPrefix = "in a string that kustomize may parse: "

// firstAlias returns the line of the first alias of doc, where a reader
// starts to see the bomb go off, or the document's line if it has none.
func firstAlias(doc *yaml.Node) int {
	var find func(n *yaml.Node) int
	find = func(n *yaml.Node) int {
		if n.Kind == yaml.AliasNode {
			return n.Line
		}
		for _, c := range n.Content {
			if l := find(c); l > 0 {
				return l
			}
		}
		return 0
	}
	if l := find(doc); l > 0 {
		return l
	}
	return doc.Line
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// yaml.v3 reports the line of a parser error (unlike a scanner error) from
// a 0-based mark; these messages are the parser's.
var yamlParserErrors = []string{
	"did not find expected ',' or", "did not find expected key", "did not find expected node content",
	"did not find expected '-' indicator", "did not find expected <document start>",
	"found undefined tag handle", "found duplicate %", "found incompatible YAML document",
}

// syntaxLine splits a yaml.v3 error into its 1-based line (0 if none) and
// the message.
func syntaxLine(err error) (int, string) {
	msg := err.Error()
	m := yamlLineRE.FindStringSubmatch(msg)
	if m == nil {
		return 0, strings.TrimPrefix(msg, "yaml: ")
	}
	line, _ := strconv.Atoi(m[1])
	rest := msg[len(m[0]):]
	for _, p := range yamlParserErrors {
		if strings.HasPrefix(rest, p) {
			line++
			break
		}
	}
	return line, rest
}

// piece is one part of a YAML input as kustomize's reader splits it.
type piece struct {
	data []byte
	line int // 1-based line of data's first line in the input
}

// kustomizeSeparator is the document separator of kyaml's reader
// (kio.ByteReader): any line starting with "---", after CRLF is made LF.
var kustomizeSeparator = regexp.MustCompile(`\n---.*\n`)

// kustomizePieces splits data the way kyaml's reader does.
func kustomizePieces(data []byte) []piece {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	var out []piece
	prev, line := 0, 1
	for _, loc := range kustomizeSeparator.FindAllIndex(data, -1) {
		out = append(out, piece{data: data[prev:loc[0]], line: line})
		line += bytes.Count(data[prev:loc[1]], []byte("\n"))
		prev = loc[1]
	}
	return append(out, piece{data: data[prev:], line: line})
}
