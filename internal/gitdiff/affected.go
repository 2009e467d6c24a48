package gitdiff

import (
	"encoding/json"
	"path"
	"sort"
	"strings"
)

// Affected returns, sorted, the names of the components whose root contains
// one of paths. roots maps a component name to its root directory, slash
// separated and relative to the top of the repository (Repo.Root); a root of
// "." (single-artifact mode) contains every path. A component absent from
// roots (deleted, so no longer discovered) is never returned.
func Affected(paths []string, roots map[string]string) []string {
	byRoot := make(map[string][]string, len(roots))
	for name, root := range roots {
		root = cleanRoot(root)
		byRoot[root] = append(byRoot[root], name)
	}
	hit := map[string]bool{}
	for _, p := range paths {
		// Walk the directories holding p, from p itself up to ".": a lookup
		// per level keeps this linear in len(paths) whatever len(roots) is.
		for dir := path.Clean(p); ; dir = path.Dir(dir) {
			for _, name := range byRoot[dir] {
				hit[name] = true
			}
			if dir == "." || dir == "/" {
				break
			}
		}
	}
	names := make([]string, 0, len(hit))
	for name := range hit {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func cleanRoot(root string) string {
	root = path.Clean(strings.TrimPrefix(root, "/"))
	if root == "" || root == "/" {
		return "."
	}
	return root
}

// Matrix renders components for `detect`'s outputs: matrixJSON for
// strategy.matrix ({"component":["a","b"]}) and listJSON (["a","b"]). An
// empty set renders {"component":[]} and [], never null; see the package
// documentation for guarding the job that uses an empty matrix.
func Matrix(components []string) (matrixJSON, listJSON string) {
	if components == nil {
		components = []string{}
	}
	list, _ := json.Marshal(components) // a []string always marshals
	m, _ := json.Marshal(struct {
		Component []string `json:"component"`
	}{components})
	return string(m), string(list)
}
