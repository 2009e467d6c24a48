package kustomize

import (
	"bytes"
	"strings"

	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// kustomize's resource map checks every object it adds against all the
// objects before it (resWrangler.Append scans the list for the same ID),
// twice per object: a build's time grows with the square of its objects,
// 8,000 objects in one file take about a hundred times as long as 1,000.
// A kustomization that only lists files and folders of the same kind
// renders exactly the objects of those files, so such a build is rendered
// here with kustomize's own reader (kyaml's, which copies aliases and
// unwraps Lists, and drops local-config objects as kustomize does), and
// duplicates are found with a map. Any other build, and any file the
// reader refuses or a duplicate, goes to kustomize for its own verdict.

// listingKeys are the fields of a kustomization that only lists.
var listingKeys = map[string]bool{"apiVersion": true, "kind": true, "resources": true, "bases": true}

// onlyLists reports whether the kustomization in dir, and every one it
// includes, only lists resource files and folders.
func (a *artifact) onlyLists(dir string) bool {
	for _, d := range a.closure(dir) {
		k := a.kusts[d]
		if k == nil || k.component || k.openapi || len(k.patches) > 0 {
			return false
		}
		root := k.doc.root()
		if root.Kind != yaml.MappingNode {
			return false
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			key, val := root.Content[i], root.Content[i+1]
			if key.Kind != yaml.ScalarNode || key.Tag != "!!str" || !listingKeys[key.Value] || val.Anchor != "" {
				return false
			}
			switch key.Value {
			case "apiVersion":
				if val.Kind != yaml.ScalarNode || val.Value != "kustomize.config.k8s.io/v1beta1" {
					return false
				}
			case "kind":
				if val.Kind != yaml.ScalarNode || val.Value != "Kustomization" {
					return false
				}
			default:
				if val.Kind != yaml.SequenceNode {
					return false
				}
				for _, it := range val.Content {
					if it.Kind != yaml.ScalarNode || it.Tag != "!!str" {
						return false
					}
				}
			}
		}
		for _, r := range k.refs {
			if r.field != "resources" && r.field != "bases" {
				return false
			}
		}
	}
	return true
}

// renderListing renders a kustomization that only lists (see onlyLists),
// in kustomize's order, as JSON. ok is false when kustomize must decide: a
// file its reader refuses, or two objects with the same ID. A file is read
// a chunk of documents at a time (see listingChunks) and each chunk's trees
// are dropped once written as JSON: a file of thousands of objects would
// otherwise hold them all, several times the memory of their JSON.
func (a *artifact) renderListing(dir string) (res []object, ok bool) {
	rf := provider.NewDefaultDepProvider().GetResourceFactory()
	seen := map[string]bool{}
	building := map[string]bool{} // a cycle is kustomize's to report
	var walk func(dir string) bool
	walk = func(dir string) bool {
		if building[dir] {
			return false
		}
		building[dir] = true
		defer delete(building, dir)
		for _, r := range a.kusts[dir].refs {
			if r.dir {
				if !walk(r.path) {
					return false
				}
				continue
			}
			data, found := a.mem.file(r.path)
			if !found {
				return false
			}
			mark, added := len(res), []string(nil)
			emit := func(got []*resource.Resource) bool {
				for _, r := range got {
					id := r.CurId()
					key := id.Gvk.String() + "|" + id.EffectiveNamespace() + "|" + id.Name
					if seen[key] {
						return false
					}
					seen[key] = true
					added = append(added, key)
					r.RemoveBuildAnnotations()
					res = append(res, objectOf(r, nil))
				}
				return true
			}
			if chunks := listingChunks(data); len(chunks) > 1 {
				switch readChunks(rf, chunks, emit) {
				case chunksRead:
					continue
				case chunksRefused:
					return false
				}
				// A List: read the file whole, as kustomize does.
				res = res[:mark]
				for _, k := range added {
					delete(seen, k)
				}
			}
			nodes, err := rf.RNodesFromBytes(data)
			if err != nil {
				return false
			}
			got, err := rf.DropLocalNodes(nodes)
			if err != nil || !emit(got) {
				return false
			}
		}
		return true
	}
	if !walk(dir) {
		return nil, false
	}
	return res, true
}

type chunkRead int

const (
	chunksRead    chunkRead = iota
	chunksRefused           // the reader refused a chunk, or emit did
	chunksList              // a chunk holds a List: read the file whole
)

// readChunks reads the chunks of a file (see listingChunks) one after
// another as kustomize's RNodesFromBytes reads a file, and passes each
// chunk's objects to emit. RNodesFromBytes moves the items of a List after
// every other document it read, so a file with a List must be read whole:
// readChunks stops at the first List it meets. The checks before are
// kustomize's own (its dropBadNodes), made here because its reader does not
// say which objects came of a List.
func readChunks(rf *resource.Factory, chunks [][]byte, emit func([]*resource.Resource) bool) chunkRead {
	for _, c := range chunks {
		nodes, err := kio.FromBytes(c)
		if err != nil {
			return chunksRefused
		}
		kept := nodes[:0]
		for _, n := range nodes {
			if n.IsNilOrEmpty() {
				continue
			}
			if _, err := n.GetValidatedMetadata(); err != nil {
				return chunksRefused
			}
			if bad, _ := n.HasNilEntryInList(); bad {
				return chunksRefused
			}
			if strings.HasSuffix(n.GetKind(), "List") {
				return chunksList
			}
			kept = append(kept, n)
		}
		got, err := rf.DropLocalNodes(kept)
		if err != nil || !emit(got) {
			return chunksRefused
		}
	}
	return chunksRead
}

// listingChunk is how many documents of a file kyaml's reader reads at once
// for a listing.
const listingChunk = 256

// listingChunks cuts a resource file, at separators where kyaml's reader
// splits it, into pieces of listingChunk documents, so that reading the
// pieces one after another yields what reading the whole file does: each
// piece ends with the line break the reader adds to every document but the
// last, and holds two documents or more (a file of one document that is a
// List is unwrapped, a document among others is not). A small file is one
// piece.
func listingChunks(data []byte) [][]byte {
	if bytes.Count(data, []byte("\n---")) < 2*listingChunk {
		return [][]byte{data}
	}
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")) // as the reader does, before it splits
	locs := kustomizeSeparator.FindAllIndex(data, -1)
	if len(locs) < 2*listingChunk {
		return [][]byte{data}
	}
	var out [][]byte
	start := 0
	// Cut at every listingChunk-th separator while at least listingChunk
	// separators remain after it, so the last piece is not small either.
	for i := listingChunk - 1; i+listingChunk < len(locs); i += listingChunk {
		out = append(out, data[start:locs[i][0]+1])
		start = locs[i][1]
	}
	return append(out, data[start:])
}
