package kustomize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

var (
	dupIDRE = regexp.MustCompile(`already registered id: ([^\s'"]+)`)
	absPath = regexp.MustCompile(`(^|[\s'"(\[=])/([^\s'"]*)`)
	resIDRE = regexp.MustCompile(`^([^.]+)\.[^/]*/([^.]+)`)
)

// buildResult is what one kustomize build found.
type buildResult struct {
	findings []Finding
	objects  int // rendered objects
	ok       bool
	rendered [][]byte // the objects as JSON, when a test observes builds
}

// build runs kustomize with k as the root and checks every object.
func (v *Validator) build(a *artifact, k *kustomization) (res buildResult) {
	fail := func(f Finding) buildResult {
		f.File = a.opts.Prefix + f.File
		return buildResult{findings: []Finding{f}}
	}
	defer func() {
		if r := recover(); r != nil {
			res = fail(Finding{File: k.file, Severity: Error, Message: fmt.Sprintf("kustomize failed on this kustomization: %v", r)})
		}
	}()
	data, err := k.rootBytes()
	if err != nil {
		return fail(Finding{File: k.file, Line: k.doc.line, Severity: Error, Message: err.Error()})
	}
	defer lockOpenAPI(a.usesOpenAPI(k.dir))()
	var objs []object
	resources, direct := []*resource.Resource(nil), false
	if !a.opts.viaKustomize && a.onlyLists(k.dir) {
		objs, direct = a.renderListing(k.dir)
	}
	if !direct {
		rm, err := krusty.MakeKustomizer(kustomizeOptions()).Run(a.mem.withRoot(k.file, data), path.Join("/", k.dir))
		if err != nil {
			return fail(a.kustomizeError(k, err))
		}
		resources = rm.Resources()
	}
	n := len(objs) + len(resources)
	// What kustomize returned is bounded too: the estimate before the
	// build cannot see every way a build grows (replacements, for one).
	if err := a.budget.checkBuild(a.opts.Component, false, int64(n), 0, ""); err != nil {
		return fail(Finding{File: k.file, Line: k.doc.line, Severity: Error, Message: err.Error()})
	}
	files, resFiles := a.filesOf(k.dir)
	b := &objectBuild{v: v, a: a, files: files, seen: map[string]string{}}
	matched := map[int]bool{}
	var out []Finding
	var rendered int64
	var objects [][]byte // for Options.Rendered
	for i := range n {
		// Each object is let go once checked (a tree once written as JSON):
		// a large overlay otherwise holds every tree and every text at once.
		var o object
		if direct {
			o, objs[i] = objs[i], object{}
		} else {
			o = objectOf(resources[i], matched)
			resources[i] = nil
		}
		if o.fail != nil {
			return fail(Finding{File: k.file, Severity: Error, Message: o.fail.Error()})
		}
		res.objects++
		file := a.originOf(resFiles, o.kind, o.name, k.file)
		raw := o.raw
		if o.err != nil {
			out = append(out, Finding{File: a.opts.Prefix + file, Severity: Error, Message: fmt.Sprintf("rendering %s: %v", o.id, o.err)})
			continue
		}
		if a.opts.observe != nil {
			res.rendered = append(res.rendered, raw)
		}
		if rendered += int64(len(raw)); rendered > a.budget.limits.RenderedBytes {
			return fail(Finding{File: k.file, Line: k.doc.line, Severity: Error,
				Message: a.budget.checkBuild(a.opts.Component, false, 0, rendered, "").Error()})
		}
		out = append(out, b.check(raw, file)...)
		if a.opts.Rendered != nil {
			objects = append(objects, raw)
		}
	}
	if a.opts.Rendered != nil {
		a.opts.Rendered(k.dir, objects)
	}
	for _, p := range k.patches {
		if !matched[p.index] {
			out = append(out, Finding{File: a.opts.Prefix + k.file, Line: p.line, Severity: Error,
				Message: fmt.Sprintf("patches[%d]: target %s matches no object: the patch would change nothing", p.index, p.target)})
		}
	}
	res.findings, res.ok = out, true
	return res
}

// object is one rendered object as a build checks it.
type object struct {
	kind, name string
	raw        []byte // as JSON
	id         string // kustomize's ID of it, when writing it failed
	err        error  // writing it as JSON failed
	fail       error  // the build fails: a marker could not be removed
}

// objectOf removes from r the markers of fleetpush's marker patches,
// noting in matched (when not nil) the patches they show selected
// something, and writes r as JSON.
func objectOf(r *resource.Resource, matched map[int]bool) object {
	ann := r.GetAnnotations()
	marked := false
	for key := range ann {
		if i, ok := strings.CutPrefix(key, patchCheckKey); ok {
			n, _ := strconv.Atoi(i)
			if matched != nil {
				matched[n] = true
			}
			delete(ann, key)
			marked = true
		}
	}
	if marked {
		if err := r.SetAnnotations(ann); err != nil {
			return object{fail: err}
		}
	}
	o := object{kind: r.GetKind(), name: r.GetName()}
	if o.raw, o.err = r.MarshalJSON(); o.err != nil {
		o.id = r.CurId().String()
	}
	return o
}

// kyaml keeps its OpenAPI schema in process-wide state. kustomize installs
// the schema of a kustomization's "openapi" field there and never clears a
// custom one, so such a build runs alone and restores the default schema
// after itself. kyaml also parses the built-in schema lazily, on the first
// lookup that needs it, and some lookups (IsNamespaceScoped) read its maps
// without a lock: two builds that reach a first use at once race. So the
// schema is parsed while no build runs (primeOpenAPI under the write lock,
// from New and after every reset), and the builds that hold the read lock
// only ever read it, and still run in parallel.
var openapiMu sync.RWMutex

// lockOpenAPI locks kyaml's schema state for one build: alone when the
// build sets its own schema (custom), shared otherwise. It returns the
// unlock.
func lockOpenAPI(custom bool) (unlock func()) {
	if !custom {
		openapiMu.RLock()
		return openapiMu.RUnlock
	}
	openapiMu.Lock()
	return func() {
		defer openapiMu.Unlock()
		openapi.ResetOpenAPI()
		primeOpenAPI()
	}
}

// primeOpenAPI makes kyaml parse its default schema now, so that no later
// lookup writes it. The caller holds openapiMu for writing.
func primeOpenAPI() { openapi.Schema() }

func (a *artifact) usesOpenAPI(dir string) bool {
	for _, d := range a.closure(dir) {
		if k := a.kusts[d]; k != nil && k.openapi {
			return true
		}
	}
	return false
}

// filesOf returns the files a build of dir reads (its kustomizations and
// the files they reference) and, of those, the files that hold resources.
func (a *artifact) filesOf(dir string) (files, resources []string) {
	for _, d := range a.closure(dir) {
		if k := a.kusts[d]; k != nil {
			files = append(files, k.file)
			files = append(files, k.files...)
			resources = append(resources, k.resources...)
		}
	}
	slices.Sort(files)
	slices.Sort(resources)
	return slices.Compact(files), slices.Compact(resources)
}

// originOf returns the resource file that defined an object of the build:
// the one with a document of the same kind and name, else of the same kind
// and a name that a prefix or suffix turned into name. Generated objects
// are attributed to the kustomization.
func (a *artifact) originOf(resources []string, kind, name, fallback string) string {
	for _, f := range resources {
		if yf := a.yaml[f]; yf != nil && yf.byID[docID(kind, name)] != nil {
			return f
		}
	}
	best, bestLen := "", -1
	for _, f := range resources {
		yf := a.yaml[f]
		if yf == nil {
			continue
		}
		for _, d := range yf.byKind[kind] {
			if d.name != "" && strings.Contains(name, d.name) && len(d.name) > bestLen {
				best, bestLen = f, len(d.name)
			}
		}
	}
	if best != "" {
		return best
	}
	return fallback
}

// kustomizeError turns a failed build into a finding on the kustomization.
func (a *artifact) kustomizeError(k *kustomization, err error) Finding {
	msg := absPath.ReplaceAllString(err.Error(), "$1$2")
	if m := dupIDRE.FindStringSubmatch(msg); m != nil {
		if id := resIDRE.FindStringSubmatch(m[1]); id != nil {
			kind, name := id[1], id[2]
			var docs []*yamlDoc
			files, _ := a.filesOf(k.dir)
			for _, f := range files {
				if yf := a.yaml[f]; yf != nil {
					for _, d := range yf.docs {
						if d.kind == kind && d.name == name {
							docs = append(docs, d)
						}
					}
				}
			}
			f := Finding{File: k.file, Line: k.doc.line, Severity: Error}
			if len(docs) >= 2 {
				f.File, f.Line = docs[1].file, docs[1].line
				f.Message = fmt.Sprintf("%s/%s: duplicate object: also defined at %s:%d", kind, name, a.opts.Prefix+docs[0].file, docs[0].line)
			} else {
				f.Message = fmt.Sprintf("%s/%s: duplicate object in this build", kind, name)
			}
			return f
		}
	}
	return Finding{File: k.file, Line: k.doc.line, Severity: Error, Message: "kustomize build failed: " + msg}
}

// objectBuild checks the objects of one build.
type objectBuild struct {
	v     *Validator
	a     *artifact
	files []string
	seen  map[string]string // group/kind/namespace/name -> where
}

func (b *objectBuild) check(raw []byte, file string) []Finding {
	obj, err := decodeObject(raw)
	if err != nil {
		return []Finding{{File: b.a.opts.Prefix + file, Severity: Error, Message: err.Error()}}
	}
	pristine, _ := decodeObject(raw)
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	id := kind + "/" + name
	var out []Finding
	add := func(p string, sev Severity, format string, args ...any) {
		f, line := b.locate(file, kind, name, p, pristine)
		out = append(out, Finding{File: b.a.opts.Prefix + f, Line: line, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case apiVersion == "":
		add("", Error, "%s: apiVersion is missing", id)
		return out
	case kind == "":
		add("", Error, "object %q: kind is missing", name)
		return out
	case name == "":
		add("", Error, "%s: metadata.name is missing", kind)
		return out
	}
	group, _, _ := strings.Cut(apiVersion, "/")
	if !strings.Contains(apiVersion, "/") {
		group = ""
	}
	key := group + "/" + kind + "/" + ns + "/" + name
	f, line := b.locate(file, kind, name, "", pristine)
	here := fmt.Sprintf("%s%s:%d", b.a.opts.Prefix, f, line)
	if prev, dup := b.seen[key]; dup {
		add("", Error, "%s: duplicate object (namespace %q): also defined at %s", id, ns, prev)
		return out
	}
	b.seen[key] = here

	_, sops := obj["sops"]
	if apiVersion == "v1" && kind == "Secret" {
		for _, field := range []string{"data", "stringData"} {
			if m, ok := obj[field].(map[string]any); ok && plainMap(m, sops) {
				f, line := b.locate(file, kind, name, field, pristine)
				origin := name
				if d := b.a.pickDoc(file, kind, name); d != nil {
					origin = d.name
				}
				reported := b.a.secrets[f+":"+strconv.Itoa(line)] || b.a.secrets[secretKey(file, origin, field)] || b.a.secrets[secretKey(file, name, field)]
				if !reported { // else reported from its file
					out = append(out, Finding{File: b.a.opts.Prefix + f, Line: line, Severity: Error, Message: secretMessage(id, field)})
				}
			}
		}
	}
	if sops {
		return out // encrypted values do not match their schema types
	}
	subst := md["annotations"] == nil || md["annotations"].(map[string]any)["kustomize.toolkit.fluxcd.io/substitute"] != "disabled"
	for _, e := range b.v.checkSchema(apiVersion, kind, obj, subst, b.a.opts.SchemaLocations) {
		if e.notice {
			add("", Notice, "%s", e.msg)
			continue
		}
		if e.path == "" {
			add("", Error, "%s: %s", id, e.msg)
		} else {
			add(e.path, Error, "%s: %s: %s", id, e.path, e.msg)
		}
	}
	return out
}

func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("decoding a rendered object: %w", err)
	}
	return obj, nil
}

// locate finds the file and line that define field p of the object: the
// document in the origin file, or, when the rendered value differs from it
// (a patch changed it), the document of the build that holds that value.
func (b *objectBuild) locate(file, kind, name, p string, obj map[string]any) (string, int) {
	want, wantOK := valueAt(obj, p)
	origin := b.a.pickDoc(file, kind, name)
	var cands []*yamlDoc
	if origin != nil {
		cands = append(cands, origin)
	}
	if p != "" {
		for _, f := range b.files {
			if yf := b.a.yaml[f]; yf != nil && f != file {
				if d := yf.byID[docID(kind, name)]; d != nil {
					cands = append(cands, d) // the common case, without a scan
					continue
				}
				for _, d := range yf.byKind[kind] {
					if nameMatch(d.name, name) {
						cands = append(cands, d)
					}
				}
			}
		}
		for _, c := range cands {
			line, leaf, ok := lookup(c.root(), p)
			if ok && (leaf.Kind != yaml.ScalarNode || !wantOK || leaf.Value == want) {
				return c.file, line
			}
		}
	}
	if origin == nil {
		return file, 0
	}
	line, _, _ := lookup(origin.root(), p)
	return file, line
}

func nameMatch(docName, name string) bool {
	return docName == name || docName != "" && strings.Contains(name, docName)
}

// pickDoc returns the document of file that most likely defined the object:
// same kind and name, else same kind and a name that prefixes or suffixes
// turned into name, else the only document of that kind.
func (a *artifact) pickDoc(file, kind, name string) *yamlDoc {
	yf := a.yaml[file]
	if yf == nil {
		return nil
	}
	if d := yf.byID[docID(kind, name)]; d != nil {
		return d
	}
	var best *yamlDoc
	for _, d := range yf.byKind[kind] {
		if d.name != "" && strings.Contains(name, d.name) && (best == nil || len(d.name) > len(best.name)) {
			best = d
		}
	}
	if best != nil {
		return best
	}
	if docs := yf.byKind[kind]; len(docs) > 0 {
		return docs[0]
	}
	return nil
}
