package kustomize

import (
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resource"
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
// in kustomize's order. ok is false when kustomize must decide: a file
// its reader refuses, or two objects with the same ID.
func (a *artifact) renderListing(dir string) (res []*resource.Resource, ok bool) {
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
			nodes, err := rf.RNodesFromBytes(data)
			if err != nil {
				return false
			}
			got, err := rf.DropLocalNodes(nodes)
			if err != nil {
				return false
			}
			for _, r := range got {
				id := r.CurId()
				key := id.Gvk.String() + "|" + id.EffectiveNamespace() + "|" + id.Name
				if seen[key] {
					return false
				}
				seen[key] = true
				r.RemoveBuildAnnotations()
				res = append(res, r)
			}
		}
		return true
	}
	if !walk(dir) {
		return nil, false
	}
	return res, true
}
