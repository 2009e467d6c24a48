package kustomize

import (
	"fmt"
	"path"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
)

// A generators, transformers or validators entry may name a folder: kustomize
// builds it and uses the objects it renders as plugin configurations. Those
// can name files to load (a PatchTransformer's path), and kustomize
// downloads a URL there with its own HTTP client, no timeout and no size
// limit. What a folder renders is known only after its build, so such a
// folder is built first, on its own, and its objects are checked for
// loads from outside the artifact and for YAML bombs in their strings;
// only then may a build that uses it run.

// pluginState is the outcome of checking one plugin folder, computed once.
type pluginState struct {
	once sync.Once
	ok   bool
}

// pluginDirsOf returns the plugin folders that a build of dir uses.
func (a *artifact) pluginDirsOf(dir string) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range a.closure(dir) {
		if k := a.kusts[d]; k != nil {
			for _, p := range k.plugins {
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// findPluginCycles prepares the checks, marking a plugin folder that needs
// itself (through other plugin folders) as failed, so the checks, which
// wait for each other, form no cycle.
func (a *artifact) findPluginCycles() {
	a.pluginStates = map[string]*pluginState{}
	a.pluginCyclic = map[string]bool{}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var visit func(d string)
	visit = func(d string) {
		color[d] = grey
		for _, p := range a.pluginDirsOf(d) {
			switch color[p] {
			case grey:
				a.pluginCyclic[p] = true
			case white:
				visit(p)
			}
		}
		color[d] = black
	}
	for _, dir := range sortedDirs(a.kusts) {
		for _, p := range a.kusts[dir].plugins {
			a.pluginStates[p] = &pluginState{}
			if color[p] == white {
				visit(p)
			}
		}
	}
}

// pluginsSafe reports whether every plugin folder a build of dir uses has
// been built and checked without a problem.
func (v *Validator) pluginsSafe(a *artifact, dir string) bool {
	for _, p := range a.pluginDirsOf(dir) {
		if !v.checkPlugin(a, p) {
			return false
		}
	}
	return true
}

func (v *Validator) checkPlugin(a *artifact, dir string) bool {
	st := a.pluginStates[dir]
	st.once.Do(func() { st.ok = v.buildPlugin(a, dir) })
	return st.ok
}

func (v *Validator) buildPlugin(a *artifact, dir string) (ok bool) {
	k := a.kusts[dir]
	if k == nil {
		return false // its kustomization file is reported as unreadable
	}
	report := func(line int, format string, args ...any) {
		a.addLocked(Finding{File: k.file, Line: line, Severity: Error, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case a.pluginCyclic[dir]:
		report(k.doc.line, "this folder configures generators or transformers of a build that it uses itself: kustomize would loop")
		return false
	case k.component:
		report(k.doc.line, "a Component cannot configure generators, transformers or validators: make it a Kustomization")
		return false
	case !a.buildable(dir) || !v.pluginsSafe(a, dir):
		return false // reported where it breaks
	}
	defer func() {
		if r := recover(); r != nil {
			report(k.doc.line, "kustomize failed on this kustomization: %v", r)
			ok = false
		}
	}()
	defer lockOpenAPI(a.usesOpenAPI(dir))()
	rm, err := krusty.MakeKustomizer(kustomizeOptions()).Run(a.mem, path.Join("/", dir))
	if err != nil {
		return false // the build of the folder itself reports it
	}
	ok = true
	for _, r := range rm.Resources() {
		obj, err := r.Map()
		if err != nil {
			report(k.doc.line, "rendering %s: %v", r.CurId(), err)
			return false
		}
		id := r.GetKind() + "/" + r.GetName()
		walkLoads(obj, func(key, val string) {
			if fetchesURL(loadValue(key, val)) {
				report(k.doc.line, "%s: %s %q would be downloaded at build time, outside the artifact, when this object configures a generator or transformer: copy the file into the repository", id, key, val)
				ok = false
			}
		})
		if node := r.YNode(); node != nil {
			if e := guardStrings(node, 1); e != nil {
				report(k.doc.line, "%s: refused: %s", id, e.Msg)
				ok = false
			}
		}
	}
	return ok
}

// walkLoads calls fn for every value of a load key in a rendered object.
func walkLoads(v any, fn func(key, val string)) {
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > maxYAMLDepth {
			return
		}
		switch v := v.(type) {
		case map[string]any:
			for key, val := range v {
				if loadKeys[key] {
					switch val := val.(type) {
					case string:
						fn(key, val)
					case []any:
						for _, e := range val {
							if s, ok := e.(string); ok {
								fn(key, s)
							}
						}
					}
				}
				walk(val, depth+1)
			}
		case []any:
			for _, e := range v {
				walk(e, depth+1)
			}
		}
	}
	walk(v, 0)
}

// addLocked adds a finding from a build goroutine.
func (a *artifact) addLocked(f Finding) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.add(f)
}
