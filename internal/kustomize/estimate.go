package kustomize

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// A build's cost is estimated from the kustomization graph before
// kustomize runs, because kustomize spends the memory while it builds:
// an overlay that lists a folder N times renders it N times, and N
// overlays nested that way render N^depth copies of one object, so a
// few small files can ask for gigabytes. The estimate is an upper bound
// of what the build renders, computed in time linear in the graph (each
// folder once), with sums and products that saturate rather than wrap.

// cost is what rendering a kustomization is estimated to produce.
type cost struct {
	objects int64
	bytes   int64 // as JSON, about
	// perObject is what the patches and transformers of a component add
	// to every object of the kustomization that includes it (a
	// component's patches apply to its includer's objects).
	perObject int64
	// largest names the reference that contributed the most objects, for
	// the error.
	largest      string
	largestCount int64
}

func satAdd(a, b int64) int64 { return min(saturated, a+b) }

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a >= saturated/b {
		return saturated
	}
	return a * b
}

// nodeBytes is what each node adds to a document's estimated size. As
// JSON a node takes a few bytes, but kustomize holds it as a yaml.Node of
// more than a hundred: an object of short scalars in great number (what
// aliases make) costs far more memory than its JSON suggests, so nodes
// count for more than their text.
const nodeBytes = 24

// docBytes estimates what a document costs a build: its scalars with
// aliases copied, plus nodeBytes a node.
func docBytes(d *yamlDoc) int64 { return satAdd(d.size.bytes, satMul(d.size.nodes, nodeBytes)) }

// fileCost is what a resource file renders: its objects, Lists unwrapped.
func (a *artifact) fileCost(p string) cost {
	yf := a.yaml[p]
	if yf == nil {
		return cost{bytes: a.sizes[p]}
	}
	var c cost
	for _, d := range yf.docs {
		c.objects = satAdd(c.objects, objectsIn(d.root(), 0))
		c.bytes = satAdd(c.bytes, docBytes(d))
	}
	// kustomize's reader splits a file at every line that starts with
	// "---", inside a block scalar too, so it may see documents yaml.v3
	// does not: count those as kustomize reads them.
	if data, ok := a.mem.file(p); ok && bytes.Count(data, []byte("---")) >= len(yf.docs) {
		var pieces int64
		for _, pc := range kustomizePieces(data) {
			if docs, err := decodeGuarded(pc.data); err == nil {
				for _, d := range docs {
					pieces = satAdd(pieces, objectsIn(d, 0))
				}
			} else {
				pieces = satAdd(pieces, 1)
			}
		}
		c.objects = max(c.objects, pieces)
	}
	return c
}

// objectsIn counts the objects kustomize makes of document n: one for a
// mapping, the items of a List (whose kind ends in "List", as kustomize
// unwraps them, nested Lists too), none for an empty document.
func objectsIn(n *yaml.Node, depth int) int64 {
	n = resolve(n)
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = resolve(n.Content[0])
	}
	if n == nil || n.Kind != yaml.MappingNode || depth > maxYAMLDepth {
		return 0
	}
	if items, ok := listItems(n); ok {
		var total int64
		for _, it := range items {
			total = satAdd(total, objectsIn(it, depth+1))
		}
		return total
	}
	return 1
}

// estimator estimates the builds of one artifact, each folder once.
type estimator struct {
	a        *artifact
	memo     map[string]cost
	visiting map[string]bool
}

func newEstimator(a *artifact) *estimator {
	return &estimator{a: a, memo: map[string]cost{}, visiting: map[string]bool{}}
}

// estimate returns what building the kustomization in dir renders, at most.
func (e *estimator) estimate(dir string) cost {
	if c, ok := e.memo[dir]; ok {
		return c
	}
	k := e.a.kusts[dir]
	if k == nil || e.visiting[dir] {
		return cost{} // a cycle, which kustomize reports
	}
	e.visiting[dir] = true
	defer delete(e.visiting, dir)
	var c cost
	add := func(what string, sub cost) {
		c.objects = satAdd(c.objects, sub.objects)
		c.bytes = satAdd(c.bytes, sub.bytes)
		c.perObject = satAdd(c.perObject, sub.perObject)
		if sub.objects > c.largestCount {
			c.largest, c.largestCount = what, sub.objects
		}
	}
	for _, r := range k.refs {
		rel := relTo(dir, r.path)
		switch {
		case r.dir:
			// resources, components, generators, transformers and
			// validators folders are built in full, every time.
			add(fmt.Sprintf("%s %q", r.field, rel), e.estimate(r.path))
		case r.field == "resources" || r.field == "bases" || r.field == "generators" || r.field == "transformers" || r.field == "validators":
			add(fmt.Sprintf("%s %q", r.field, rel), e.a.fileCost(r.path))
		case strings.HasPrefix(r.field, "configMapGenerator ") || strings.HasPrefix(r.field, "secretGenerator "):
			// A generated object holds the file, once for each entry
			// that names it.
			c.bytes = satAdd(c.bytes, satMul(e.a.sizes[r.path], 2))
		}
	}
	root := k.doc.root()
	for _, key := range []string{"configMapGenerator", "secretGenerator"} {
		if seq := mapValue(root, key); seq != nil && seq.Kind == yaml.SequenceNode {
			n := int64(len(seq.Content))
			c.objects = satAdd(c.objects, n)
			c.bytes = satAdd(c.bytes, satMul(scalarBytes(seq, 0), 2))
			if n > c.largestCount {
				c.largest, c.largestCount = key, n
			}
		}
	}
	for _, key := range []string{"generators", "transformers", "validators"} {
		for _, n := range scalarItems(root, key) {
			if docs, ok := inlineObjects(n.Value); ok {
				c.objects = satAdd(c.objects, int64(len(docs)))
				c.bytes = satAdd(c.bytes, int64(len(n.Value)))
			}
		}
	}
	// What is added to each object: labels, annotations, name changes
	// (labels also go into selectors and templates), and patches that
	// may select every object.
	for _, key := range []string{"commonLabels", "labels", "commonAnnotations", "namePrefix", "nameSuffix", "namespace", "images", "replicas"} {
		if n := mapValue(root, key); n != nil {
			c.perObject = satAdd(c.perObject, satMul(scalarBytes(n, 0), 3))
		}
	}
	var single int64 // patches that change one object
	for _, key := range []string{"patches", "patchesJson6902"} {
		if seq := mapValue(root, key); seq != nil && seq.Kind == yaml.SequenceNode {
			for _, item := range seq.Content {
				size := e.patchSize(k, item)
				if t := mapValue(item, "target"); t != nil && !namesOne(t) {
					c.perObject = satAdd(c.perObject, size)
				} else {
					single = satAdd(single, size)
				}
			}
		}
	}
	for _, n := range scalarItems(root, "patchesStrategicMerge") {
		if _, ok := inlineObjects(n.Value); ok {
			single = satAdd(single, int64(len(n.Value)))
		} else {
			single = satAdd(single, e.a.sizes[path.Join(dir, strings.TrimSpace(n.Value))])
		}
	}
	c.bytes = satAdd(c.bytes, single)
	if !k.component {
		// A component's additions wait for the objects of its includer.
		c.bytes = satAdd(c.bytes, satMul(c.perObject, c.objects))
		c.perObject = 0
	}
	e.memo[dir] = c
	return c
}

// patchSize is what one patch can add to an object it selects: its text,
// doubled for each JSON patch "copy" operation (which copies a part of the
// object into it).
func (e *estimator) patchSize(k *kustomization, item *yaml.Node) int64 {
	var size int64
	var docs []*yamlDoc
	if p := mapValue(item, "path"); p != nil && p.Kind == yaml.ScalarNode {
		f := path.Join(k.dir, strings.TrimSpace(p.Value))
		size = e.a.sizes[f]
		if yf := e.a.yaml[f]; yf != nil {
			docs = yf.docs
		}
	}
	if p := mapValue(item, "patch"); p != nil && p.Kind == yaml.ScalarNode {
		size = satAdd(size, int64(len(p.Value)))
		if nodes, err := decodeGuarded([]byte(p.Value)); err == nil {
			for _, n := range nodes {
				docs = append(docs, &yamlDoc{node: n})
			}
		}
	}
	copies := 0
	for _, d := range docs {
		if r := resolve(d.root()); r != nil && r.Kind == yaml.SequenceNode {
			for _, op := range r.Content {
				if o := field(op, "op"); o != nil && o.Value == "copy" {
					copies++
				}
			}
		}
	}
	if copies > 0 {
		// Each copy may double the object it changes: the bound is the
		// largest object, doubled once a copy.
		growth := int64(1) << min(copies, 50)
		size = satAdd(size, satMul(e.a.largestDoc(), growth-1))
	}
	return size
}

// largestDoc returns the size of the artifact's largest document.
func (a *artifact) largestDoc() int64 {
	if a.largest >= 0 {
		return a.largest
	}
	a.largest = 0
	for _, yf := range a.yaml {
		for _, d := range yf.docs {
			a.largest = max(a.largest, docBytes(d))
		}
	}
	return a.largest
}

// namesOne reports whether a patch target selects objects by one exact
// name (kustomize reads a target's name as a regular expression).
func namesOne(t *yaml.Node) bool {
	n := resolve(mapValue(t, "name"))
	return n != nil && n.Kind == yaml.ScalarNode && n.Value != "" && !strings.ContainsAny(n.Value, `.*+?()[]{}|^$\`)
}

// scalarBytes sums the scalars of n, aliases followed, to a bounded depth.
func scalarBytes(n *yaml.Node, depth int) int64 {
	n = resolve(n)
	if n == nil || depth > maxYAMLDepth {
		return 0
	}
	total := int64(len(n.Value)) + 4
	for _, c := range n.Content {
		total = satAdd(total, scalarBytes(c, depth+1))
	}
	return total
}

// scalarItems returns the scalar items of the sequence at key in the mapping root (nil when key
// is missing or not a sequence): the file and folder references of a kustomization.
func scalarItems(root *yaml.Node, key string) []*yaml.Node {
	seq := mapValue(root, key)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	var out []*yaml.Node
	for _, n := range seq.Content {
		if n.Kind == yaml.ScalarNode {
			out = append(out, n)
		}
	}
	return out
}

// relTo spells p relative to dir, for messages.
func relTo(dir, p string) string {
	if dir == "." {
		return p
	}
	if r, ok := strings.CutPrefix(p, dir+"/"); ok {
		return r
	}
	up := ""
	for d := dir; d != "." && !strings.HasPrefix(p, d+"/"); d = path.Dir(d) {
		up += "../"
		if path.Dir(d) == "." {
			return up + p
		}
		if strings.HasPrefix(p, path.Dir(d)+"/") {
			return up + strings.TrimPrefix(p, path.Dir(d)+"/")
		}
	}
	return p
}
