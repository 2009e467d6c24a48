package kustomize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// DefaultMaxFileSize bounds each file read from the artifact. The largest
// files in platform repositories are CRD bundles of a few megabytes.
const DefaultMaxFileSize int64 = 16 << 20

// Option configures a Validator.
type Option func(*Validator)

// WithMaxFileSize sets the largest file, in bytes, that Validate reads
// (the max-file-size input); a larger file is an error finding. The
// default is 16 MiB; n <= 0 keeps it.
func WithMaxFileSize(n int64) Option {
	return func(v *Validator) {
		if n > 0 {
			v.maxFileSize = n
		}
	}
}

// WithAllowEmpty says whether an artifact without a single Kubernetes
// object is intended (the allow-empty input). By default it is an error:
// Flux, pruning, would delete every object the component had in the
// cluster.
func WithAllowEmpty(allow bool) Option { return func(v *Validator) { v.allowEmpty = allow } }

// WithConcurrency sets how many kustomize builds run at once. The default
// is GOMAXPROCS.
func WithConcurrency(n int) Option { return func(v *Validator) { v.concurrency = max(1, n) } }

// Options are the per-call settings of Validate.
type Options struct {
	// Prefix is prepended to the paths of the artifact in findings, so they
	// name files relative to the repository root, e.g. "components/frontend/".
	Prefix string
	// SchemaLocations are local kubeconform-style schema locations for
	// custom resources, e.g. "schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json".
	// Kinds they do not cover pass with a notice.
	SchemaLocations []string
	// Budget is the run's budget, shared by every Validate call of the run
	// (see NewBudget). Without one, the call gets a budget of its own with
	// the default limits.
	Budget *Budget
	// Component names the component in the errors of a budget.
	Component string
	// Rendered, when set, receives what each kustomization folder of the artifact rendered: the
	// folder ("." for the root) and every object as JSON, in build order. Builds run in
	// parallel: it must be safe for concurrent calls. Folders that could not be built (already
	// reported) are not passed.
	Rendered func(dir string, objects [][]byte)

	// observe, when a test sets it, sees each build's estimate and result
	// (under the artifact's lock).
	observe func(dir string, estimated cost, res buildResult)
	// viaKustomize, when a test sets it, builds every kustomization with
	// kustomize, listings too (see direct.go).
	viaKustomize bool
}

// Validator validates artifacts. It is safe for concurrent use and caches
// what it can across calls (API types, external schemas).
type Validator struct {
	types       *typeRegistry
	fields      sync.Map
	schemas     *schemaCache
	maxFileSize int64
	concurrency int
	allowEmpty  bool
}

// New returns a Validator.
func New(opts ...Option) (*Validator, error) {
	reg, err := newTypeRegistry()
	if err != nil {
		return nil, err
	}
	v := &Validator{types: reg, maxFileSize: DefaultMaxFileSize, concurrency: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		o(v)
	}
	v.schemas = newSchemaCache(v.maxFileSize)
	// Builds share kyaml's schema: parse it before any of them runs.
	openapiMu.Lock()
	defer openapiMu.Unlock()
	primeOpenAPI()
	return v, nil
}

// artifact is one Validate call's view of the files.
type artifact struct {
	opts    Options
	mem     *memFS
	files   map[string]bool // regular files
	yaml    map[string]*yamlFile
	bad     map[string]bool // files that could not be read or parsed
	kusts   map[string]*kustomization
	secrets map[string]bool // "file:line" of the plain Secret data already reported
	// plugin folders (see plugins.go)
	pluginStates map[string]*pluginState
	pluginCyclic map[string]bool

	mu       sync.Mutex // guards findings while builds run
	findings []Finding

	budget  *Budget
	stopped bool // the run's budget ran out: nothing more is read or built
	sizes   map[string]int64
	largest int64 // the size of the largest document, once known; -1 before
}

func (a *artifact) isFile(p string) bool { return a.files[p] }
func (a *artifact) isDir(p string) bool  { return a.mem.isDirKey(p) }
func (a *artifact) yamlOf(p string) *yamlFile {
	if a.bad[p] {
		return nil
	}
	return a.yaml[p]
}
func (a *artifact) kustomizationIn(dir string) string {
	for _, n := range kustomizationFileNames {
		if p := path.Join(dir, n); a.files[p] {
			return p
		}
	}
	return ""
}

func (a *artifact) add(f Finding) {
	f.File = a.opts.Prefix + f.File
	a.findings = append(a.findings, f)
}

func isYAMLName(p string) bool {
	b := path.Base(p)
	return strings.HasSuffix(b, ".yaml") || strings.HasSuffix(b, ".yml") || b == "Kustomization"
}

// Validate builds every kustomization of files and checks what it renders.
// All problems are findings; the error is for internal failures and for a
// cancelled ctx.
func (v *Validator) Validate(ctx context.Context, files fs.FS, opts Options) ([]Finding, error) {
	if err := checkSchemaLocations(opts.SchemaLocations); err != nil {
		return nil, err
	}
	a := &artifact{opts: opts, mem: newMemFS(), files: map[string]bool{}, yaml: map[string]*yamlFile{},
		bad: map[string]bool{}, kusts: map[string]*kustomization{}, secrets: map[string]bool{},
		budget: opts.Budget, sizes: map[string]int64{}, largest: -1}
	if a.budget == nil {
		a.budget = NewBudget(Limits{})
	}
	if err := v.load(ctx, files, a); err != nil {
		return nil, err
	}
	if a.stopped {
		// The rest of the artifact was not read: every other check would
		// report what is missing, not what is wrong.
		return sortFindings(a.findings), nil
	}
	// Kustomizations, and which of them can be built.
	multiple := map[string]bool{}
	for _, p := range sortedKeysBool(a.files) {
		dir, base := path.Split(p)
		dir = path.Clean(dir)
		if a.kustomizationIn(dir) != p || !isKustomizationName(base) {
			if isKustomizationName(base) && a.kustomizationIn(dir) != p {
				a.add(Finding{File: p, Severity: Error, Message: fmt.Sprintf("more than one kustomization file in folder %q: kustomize refuses to choose; keep one", dir)})
				a.bad[p] = true
				multiple[dir] = true
			}
			continue
		}
		yf := a.yaml[p]
		if yf == nil || yf.err != nil {
			continue // reported as unreadable or malformed
		}
		if len(yf.docs) != 1 {
			a.add(Finding{File: p, Severity: Error, Message: "a kustomization file must hold exactly one YAML document"})
			continue
		}
		k := parseKustomization(dir, p, yf.docs[0], a)
		for _, f := range k.findings {
			a.add(f)
		}
		a.kusts[dir] = k
	}
	for dir := range multiple {
		if k := a.kusts[dir]; k != nil {
			k.broken = true
		}
	}
	// Files that kustomize parses as YAML must have passed the guard as
	// YAML, whatever their names.
	for _, dir := range sortedDirs(a.kusts) {
		for _, f := range a.kusts[dir].yamlRefs {
			if yf := a.yaml[f]; yf != nil && yf.err != nil && !a.bad[f] {
				a.add(Finding{File: f, Line: yf.line, Severity: Error, Message: "malformed YAML: " + syntaxMsg(yf.err)})
				a.bad[f] = true
			}
		}
	}
	checked := map[string]bool{}
	for _, dir := range sortedDirs(a.kusts) {
		for _, f := range a.kusts[dir].resources {
			if !checked[f] && !a.bad[f] {
				checked[f] = true
				a.checkResourceFile(f)
			}
		}
	}
	for _, k := range a.kusts {
		for _, f := range k.files {
			if a.bad[f] {
				k.broken = true
			}
		}
	}
	a.checkSecretFiles()
	a.findPluginCycles()
	// Builds.
	est := newEstimator(a)
	var (
		wg      sync.WaitGroup
		sem     = make(chan struct{}, v.concurrency)
		used    = map[string]bool{}
		objects = int64(0)
		empty   []*kustomization // kustomizations no other uses, that render nothing
		unknown = false          // a build that could not count its objects
	)
	for _, dir := range sortedDirs(a.kusts) {
		k := a.kusts[dir]
		for _, d := range a.closure(dir)[1:] {
			used[d] = true
		}
		if k.component {
			continue
		}
		if !a.buildable(dir) {
			a.mu.Lock()
			unknown = true
			a.mu.Unlock()
			continue
		}
		// Before kustomize runs: renders multiply through the folders a
		// kustomization includes, and kustomize would spend the memory.
		c := est.estimate(dir)
		if c.objects > 0 || c.bytes > 0 {
			detail := "estimated from the kustomizations it includes, before building"
			if c.largest != "" {
				detail = fmt.Sprintf("estimated before building; most of them from %s, %s objects", c.largest, count(c.largestCount))
			}
			if err := a.budget.checkBuild(a.opts.Component, true, c.objects, c.bytes, detail); err != nil {
				// Builds started earlier in this loop write the findings and unknown too.
				a.mu.Lock()
				a.add(Finding{File: k.file, Line: k.doc.line, Severity: Error, Message: err.Error()})
				unknown = true
				a.mu.Unlock()
				continue
			}
		}
		if err := ctx.Err(); err != nil {
			wg.Wait()
			return nil, err
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var res buildResult
			if v.pluginsSafe(a, dir) {
				res = v.build(a, k)
			}
			a.mu.Lock()
			if a.opts.observe != nil {
				a.opts.observe(dir, c, res)
			}
			a.findings = append(a.findings, res.findings...)
			objects = satAdd(objects, int64(res.objects))
			unknown = unknown || !res.ok
			if res.ok && res.objects == 0 {
				empty = append(empty, k)
			}
			a.mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for dir, k := range a.kusts {
		if k.component && !used[dir] {
			a.add(Finding{File: k.file, Line: k.doc.line, Severity: Notice,
				Message: "component is used by no kustomization in the artifact, so it was not built"})
		}
	}
	total := satAdd(objects, a.plainObjects())
	a.checkEmpty(total, unknown, v.allowEmpty)
	if total > 0 {
		// The artifact renders something, but a Flux Kustomization whose
		// path is one of these folders would apply nothing.
		for _, k := range empty {
			if used[k.dir] {
				continue
			}
			if v.allowEmpty {
				a.add(Finding{File: k.file, Line: k.doc.line, Severity: Notice,
					Message: "this kustomization renders no Kubernetes object; accepted, as allow-empty is set"})
				continue
			}
			a.add(Finding{File: k.file, Line: k.doc.line, Severity: Error,
				Message: "this kustomization renders no Kubernetes object: a Flux Kustomization with this folder as its path would prune everything it deployed; list the resources, or set allow-empty if that is intended"})
		}
	}
	return sortFindings(a.findings), nil
}

// plainObjects counts the objects that Flux applies from folders without
// a kustomization: kustomize-controller generates one there (fluxcd/pkg
// kustomize's generator) that lists every file whose extension is exactly
// .yaml or .yml, in the folder and below it, down to the folders that have
// a kustomization of their own (those are built, and counted as builds).
// A .json file, or a file beside a kustomization that does not list it, is
// never applied, so it does not count. Objects are counted as kustomize
// makes them: Lists unwrapped (an empty List is nothing), local-config
// objects dropped.
func (a *artifact) plainObjects() int64 {
	var n int64
	for p, yf := range a.yaml {
		ext := path.Ext(p)
		if a.bad[p] || ext != ".yaml" && ext != ".yml" || a.kustomizationIn(path.Dir(p)) != "" {
			continue
		}
		for _, d := range yf.docs {
			n = satAdd(n, appliedObjects(d.root(), 0))
		}
	}
	return n
}

// appliedObjects counts the objects kustomize makes of document n and
// applies: Lists unwrapped, kustomize's own configurations and
// local-config objects left out.
func appliedObjects(n *yaml.Node, depth int) int64 {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > maxYAMLDepth {
		return 0
	}
	if items, ok := listItems(n); ok {
		var total int64
		for _, it := range items {
			total = satAdd(total, appliedObjects(it, depth+1))
		}
		return total
	}
	if !isObject(n) || scalarField(field(field(n, "metadata"), "annotations"), "config.kubernetes.io/local-config") == "true" {
		return 0
	}
	return 1
}

// isObject reports whether n looks like a Kubernetes object: a mapping
// with an apiVersion and a kind, not a kustomize configuration.
func isObject(n *yaml.Node) bool {
	av, kind := field(n, "apiVersion"), field(n, "kind")
	return av != nil && kind != nil && av.Kind == yaml.ScalarNode && kind.Kind == yaml.ScalarNode &&
		av.Value != "" && kind.Value != "" && !strings.HasPrefix(av.Value, "kustomize.config.k8s.io/")
}

// checkEmpty refuses an artifact without a single Kubernetes object: Flux,
// pruning, would delete everything the component had in the cluster. When
// other errors already stop the artifact, or some build could not count
// its objects, it says nothing.
func (a *artifact) checkEmpty(objects int64, unknown, allow bool) {
	if objects > 0 || unknown || HasErrors(a.findings) {
		return
	}
	where := strings.TrimSuffix(a.opts.Prefix, "/")
	if where == "" {
		where = "."
	}
	if allow {
		a.findings = append(a.findings, Finding{File: where, Severity: Notice,
			Message: "the artifact holds no Kubernetes object; publishing it anyway, as allow-empty is set"})
		return
	}
	a.findings = append(a.findings, Finding{File: where, Severity: Error,
		Message: "the artifact holds no Kubernetes object: Flux would prune everything this component deployed; check ignore-paths (it may leave out every file), or set allow-empty if an empty artifact is intended"})
}

// checkResourceFile reports objects that kustomize would refuse with a
// message naming neither the file nor the line.
func (a *artifact) checkResourceFile(p string) {
	yf := a.yaml[p]
	if yf == nil {
		return
	}
	for _, d := range yf.docs {
		root := d.root()
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" || root.Kind == 0 {
			continue // an empty document
		}
		bad := func(msg string) {
			a.add(Finding{File: p, Line: d.line, Severity: Error, Message: msg})
			a.bad[p] = true
		}
		if root.Kind != yaml.MappingNode {
			bad("document is not a Kubernetes object (not a YAML mapping)")
			continue
		}
		switch {
		case d.kind == "":
			bad(fmt.Sprintf("object %q: kind is missing", d.name))
		case mapValue(root, "apiVersion") == nil:
			bad(fmt.Sprintf("%s/%s: apiVersion is missing", d.kind, d.name))
		case d.name == "" && !strings.HasSuffix(d.kind, "List"):
			bad(fmt.Sprintf("%s: metadata.name is missing", d.kind))
		}
	}
}

func isKustomizationName(base string) bool {
	for _, n := range kustomizationFileNames {
		if base == n {
			return true
		}
	}
	return false
}

func sortedDirs(m map[string]*kustomization) []string {
	out := make([]string, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	sortStrings(out)
	return out
}

// closure returns dir and the folders of every kustomization it uses.
func (a *artifact) closure(dir string) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(d string)
	walk = func(d string) {
		if seen[d] {
			return
		}
		seen[d] = true
		out = append(out, d)
		if k := a.kusts[d]; k != nil {
			for _, dep := range k.deps {
				walk(dep)
			}
		}
	}
	walk(dir)
	return out
}

// buildable reports whether dir and everything it uses are free of the
// problems that were already reported (so a build would only repeat them,
// or reach outside the artifact).
func (a *artifact) buildable(dir string) bool {
	for _, d := range a.closure(dir) {
		k := a.kusts[d]
		if k == nil || k.broken {
			return false
		}
	}
	return true
}

// load copies files into the in-memory file system and decodes every one
// of them through the YAML guard: kustomize may read any file as YAML
// (a patch can be called patch.txt), so a file's name decides only how a
// syntax error is reported, never whether the file is guarded.
func (v *Validator) load(ctx context.Context, files fs.FS, a *artifact) error {
	return fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return fmt.Errorf("reading the artifact: %w", err)
			}
			a.add(Finding{File: p, Severity: Error, Message: fmt.Sprintf("cannot read: %v", err)})
			a.bad[p] = true
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			a.mem.add(p, nil, true)
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		a.files[p] = true
		a.mem.add(p, nil, false) // present, so references to it resolve
		info, err := d.Info()
		if err == nil && info.Size() > v.maxFileSize {
			a.add(Finding{File: p, Severity: Error, Message: fmt.Sprintf("file is %d bytes, more than the %d bytes allowed: split it, or raise the max-file-size input", info.Size(), v.maxFileSize)})
			a.bad[p] = true
			return nil
		}
		over := func(err error) error {
			a.add(Finding{File: p, Severity: Error, Message: err.Error()})
			a.bad[p], a.stopped = true, true
			return fs.SkipAll
		}
		// The bytes are charged before the file is decoded, so a run over
		// its budget stops before decoding spends the memory.
		charged := int64(0)
		if err == nil {
			charged = info.Size()
			if err := a.budget.chargeBytes(a.opts.Component, charged); err != nil {
				return over(err)
			}
		}
		data, err := readLimited(files, p, v.maxFileSize)
		if err != nil {
			a.add(Finding{File: p, Severity: Error, Message: err.Error()})
			a.bad[p] = true
			return nil
		}
		if err := a.budget.chargeBytes(a.opts.Component, int64(len(data))-charged); err != nil {
			return over(err)
		}
		a.sizes[p] = int64(len(data))
		yf := parseYAML(p, data)
		if yf.limitErr() == nil { // else refused, and kustomize never copies its aliases
			if err := a.budget.chargeNodes(a.opts.Component, yf.nodes); err != nil {
				return over(err)
			}
			if err := a.budget.chargeBytes(a.opts.Component, yf.aliasBytes); err != nil {
				return over(err)
			}
		}
		a.yaml[p] = yf
		switch {
		case yf.limitErr() != nil:
			a.add(Finding{File: p, Line: yf.line, Severity: Error, Message: "refused: " + yf.limitErr().Msg})
			a.bad[p] = true
			return nil // kustomize never sees it
		case yf.err != nil && isYAMLName(p):
			a.add(Finding{File: p, Line: yf.line, Severity: Error, Message: "malformed YAML: " + syntaxMsg(yf.err)})
			a.bad[p] = true
		}
		a.mem.add(p, data, false)
		return nil
	})
}

func syntaxMsg(err error) string {
	var ye *yamlError
	if errors.As(err, &ye) {
		return ye.Msg
	}
	return err.Error()
}

func readLimited(files fs.FS, p string, limit int64) ([]byte, error) {
	f, err := files.Open(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("file is more than the %d bytes allowed: split it, or raise the max-file-size input", limit)
	}
	return data, nil
}

// kustomizeOptions are fixed: root-only load restrictions, builtin plugins
// only (no exec or container functions, no Helm), no managed-by label.
func kustomizeOptions() *krusty.Options {
	o := krusty.MakeDefaultOptions()
	o.LoadRestrictions = types.LoadRestrictionsRootOnly
	o.PluginConfig = types.DisabledPluginConfig()
	o.AddManagedbyLabel = false
	return o
}
