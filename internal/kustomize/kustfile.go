package kustomize

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// kustomizationFileNames are the names kustomize accepts, in its order.
var kustomizationFileNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// kustomization is a parsed kustomization file and what it references.
type kustomization struct {
	dir       string // folder inside the artifact, "." for the root
	file      string // path of the kustomization file inside the artifact
	doc       *yamlDoc
	component bool
	openapi   bool     // sets kustomize's process-wide OpenAPI schema
	deps      []string // folders of referenced kustomizations
	files     []string // referenced files
	resources []string // referenced files that hold objects
	yamlRefs  []string // referenced files that kustomize parses as YAML
	plugins   []string // folders whose objects configure generators, transformers or validators
	findings  []Finding
	broken    bool      // cannot be built: a finding explains why
	patches   []patchAt // patches with a target, by index in "patches"
	refs      []kref    // every reference that resolved, in order, repeats kept
}

// kref is a reference of a kustomization that resolved to a file or a
// kustomization folder. A reference repeated is kept twice: kustomize
// renders it twice, and that is how renders multiply.
type kref struct {
	field string // "resources", "components", "configMapGenerator files"...
	path  string // inside the artifact
	dir   bool   // a folder with a kustomization
}

type patchAt struct {
	index  int
	line   int
	target string // for messages
}

// refKind says what a kustomization field may reference.
type refKind int

const (
	refFileOrDir refKind = iota // resources, bases, generators...: a file or a kustomization folder
	refDir                      // components
	refFile                     // patches, generator sources...: a file in or below the folder
)

// isRemote reports whether kustomize would fetch ref from the network or
// from outside the file system it was given, whatever the artifact holds.
func isRemote(ref string) bool { return fetchesURL(ref) || gitLike(ref) }

// fetchesURL reports whether ref is a URL: kustomize downloads an http(s)
// file with its own HTTP client, with no timeout and no size limit, and
// clones other schemes with the git binary. Both are refused before
// kustomize sees them.
func fetchesURL(ref string) bool {
	s, _ := cutPrefixFold(strings.TrimSpace(ref), "git::")
	return strings.Contains(s, "://")
}

// userAtRE is kustomize's test for the user of an SCP-style git URL.
var userAtRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// gitLike reports whether kustomize would try ref as a git repository when
// it is not a file: github.com/…, github.com:…, or user@host… (its
// repospec parser accepts these without a scheme). A file with such a
// name is read as a file, so values@prod.yaml is fine; a folder is not.
func gitLike(ref string) bool {
	s, _ := cutPrefixFold(strings.TrimSpace(ref), "git::")
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "github.com/") || strings.HasPrefix(l, "github.com:") || userAtRE.MatchString(s)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// fileSet is what a kustomization can resolve references against.
type fileSet interface {
	isFile(p string) bool
	isDir(p string) bool
	kustomizationIn(dir string) string
	yamlOf(p string) *yamlFile
}

func (k *kustomization) addf(line int, sev Severity, format string, args ...any) {
	k.findings = append(k.findings, Finding{File: k.file, Line: line, Severity: sev, Message: fmt.Sprintf(format, args...)})
	if sev == Error {
		k.broken = true
	}
}

// parseKustomization reads the references of a kustomization file and
// checks each of them against the artifact.
func parseKustomization(dir, file string, doc *yamlDoc, fs fileSet) *kustomization {
	k := &kustomization{dir: dir, file: file, doc: doc}
	root := doc.root()
	if root.Kind != yaml.MappingNode {
		k.addf(doc.line, Error, "kustomization is not a YAML mapping")
		return k
	}
	if kind := mapValue(root, "kind"); kind != nil && kind.Value == "Component" {
		k.component = true
	}
	scalars := func(key string) []*yaml.Node { return scalarItems(root, key) }
	items := func(key string) []*yaml.Node {
		seq := mapValue(root, key)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			return nil
		}
		return seq.Content
	}
	for _, key := range []string{"resources", "bases"} {
		for _, n := range scalars(key) {
			k.ref(fs, key, n, refFileOrDir)
		}
	}
	for _, n := range scalars("components") {
		k.ref(fs, "components", n, refDir)
	}
	for _, key := range []string{"crds", "configurations"} {
		for _, n := range scalars(key) {
			k.ref(fs, key, n, refFile)
		}
	}
	for _, key := range []string{"generators", "transformers", "validators", "patchesStrategicMerge"} {
		for i, n := range scalars(key) {
			// kustomize reads an entry as inline objects when it can,
			// else as a path.
			if docs, ok := inlineObjects(n.Value); ok {
				if key != "patchesStrategicMerge" {
					for _, d := range docs {
						k.remoteLoads(fmt.Sprintf("%s[%d]", key, i), k.file, d, func(l int) int { return scalarLine(n, l) })
					}
				}
				continue
			}
			kind := refFileOrDir
			if key == "patchesStrategicMerge" {
				kind = refFile
			}
			k.ref(fs, key, n, kind)
		}
	}
	for _, key := range []string{"patches", "patchesJson6902", "replacements"} {
		for i, item := range items(key) {
			if p := mapValue(item, "path"); p != nil && p.Kind == yaml.ScalarNode {
				k.ref(fs, key, p, refFile)
			}
			if p := mapValue(item, "patch"); p != nil && p.Kind == yaml.ScalarNode && key != "replacements" {
				// kustomize parses it; it must be YAML (JSON is YAML)
				// that the guard read in full.
				if _, err := decodeGuarded([]byte(p.Value)); err != nil {
					var ye *yamlError
					if errors.As(err, &ye) && !ye.Limit {
						k.addf(scalarLine(p, ye.Line), Error, "%s[%d].patch: malformed YAML: %s", key, i, ye.Msg)
					}
				}
			}
			if key != "replacements" {
				if t := mapValue(item, "target"); t != nil && t.Kind == yaml.MappingNode && key == "patches" {
					k.patches = append(k.patches, patchAt{index: i, line: item.Line, target: describeTarget(t)})
				}
			}
		}
	}
	for _, key := range []string{"configMapGenerator", "secretGenerator"} {
		for _, item := range items(key) {
			for _, src := range []string{"files", "envs"} {
				if seq := mapValue(item, src); seq != nil && seq.Kind == yaml.SequenceNode {
					for _, n := range seq.Content {
						if n.Kind != yaml.ScalarNode {
							continue
						}
						if src == "files" {
							// "key=path" names the key of the data entry.
							if _, p, ok := strings.Cut(n.Value, "="); ok {
								cp := *n
								cp.Value = p
								n = &cp
							}
						}
						k.ref(fs, key+" "+src, n, refFile)
					}
				}
			}
			if n := mapValue(item, "env"); n != nil && n.Kind == yaml.ScalarNode {
				k.ref(fs, key+" env", n, refFile)
			}
		}
	}
	if oa := mapValue(root, "openapi"); oa != nil {
		k.openapi = true
		if p := mapValue(oa, "path"); p != nil && p.Kind == yaml.ScalarNode {
			k.ref(fs, "openapi", p, refFile)
		}
	}
	for _, key := range []string{"helmCharts", "helmChartInflationGenerator", "helmGlobals"} {
		if n := mapValue(root, key); n != nil {
			k.addf(n.Line, Error, "%s: kustomize would run the helm binary, which is not allowed here (nor in Flux): deploy the chart with a HelmRelease", key)
		}
	}
	return k
}

func describeTarget(t *yaml.Node) string {
	var parts []string
	for i := 0; i+1 < len(t.Content); i += 2 {
		if v := t.Content[i+1]; v.Kind == yaml.ScalarNode {
			parts = append(parts, t.Content[i].Value+"="+v.Value)
		}
	}
	return strings.Join(parts, " ")
}

func (k *kustomization) ref(fs fileSet, field string, n *yaml.Node, kind refKind) {
	// Taken as written: kustomize loads " cm.yaml" as a file whose name
	// starts with a space (YAML already drops the spaces of a plain,
	// unquoted value), and git and Flux carry such names.
	ref := n.Value
	if strings.TrimSpace(ref) == "" {
		return
	}
	remote := func() {
		k.addf(n.Line, Error, "%s: remote %q is not allowed: remote bases and URLs are fetched at build time, outside the artifact; copy the files into the repository", field, ref)
	}
	if fetchesURL(ref) {
		remote()
		return
	}
	if path.IsAbs(ref) {
		k.addf(n.Line, Error, "%s: %q is an absolute path: it would be missing in the cluster; use a path relative to the kustomization", field, ref)
		return
	}
	p := path.Join(k.dir, ref)
	if p == ".." || strings.HasPrefix(p, "../") {
		k.addf(n.Line, Error, "%s: %q is outside the artifact: it would be missing in the cluster", field, ref)
		return
	}
	plugin := field == "generators" || field == "transformers" || field == "validators"
	switch {
	case fs.isFile(p) && kind != refDir:
		if k.dir != "." && !strings.HasPrefix(p, k.dir+"/") {
			k.addf(n.Line, Error, "%s: %q is outside the folder of this kustomization, which kustomize load restrictions forbid: move the file, or make its folder a base with its own kustomization", field, ref)
			return
		}
		k.files = append(k.files, p)
		k.refs = append(k.refs, kref{field: field, path: p})
		if field == "resources" || field == "bases" {
			k.resources = append(k.resources, p)
		}
		if !strings.HasSuffix(field, " files") && !strings.HasSuffix(field, " envs") && !strings.HasSuffix(field, " env") {
			k.yamlRefs = append(k.yamlRefs, p)
		}
		if plugin {
			if yf := fs.yamlOf(p); yf != nil {
				for _, d := range yf.docs {
					k.remoteLoads(fmt.Sprintf("configuration of %s", field), p, d.root(), func(l int) int { return l })
				}
			}
		}
	case kind != refFile && gitLike(ref):
		// kustomize tries a folder, or a missing file, as a git URL first.
		remote()
	case fs.isDir(p):
		if kind == refFile {
			k.addf(n.Line, Error, "%s: %q is a folder, not a file", field, ref)
			return
		}
		if fs.kustomizationIn(p) == "" {
			k.addf(n.Line, Error, "%s: folder %q has no kustomization.yaml", field, ref)
			return
		}
		k.deps = append(k.deps, p)
		k.refs = append(k.refs, kref{field: field, path: p, dir: true})
		if plugin {
			k.plugins = append(k.plugins, p)
		}
	case fs.isFile(p):
		k.addf(n.Line, Error, "%s: %q is a file, not a folder with a kustomization", field, ref)
	default:
		k.addf(n.Line, Error, "%s: %q does not exist in the artifact: it would be missing in the cluster", field, ref)
	}
}

// loadKeys are the fields of kustomize's builtin generators and
// transformers whose values it loads as files (PatchTransformer path,
// PatchStrategicMergeTransformer paths, ReplacementTransformer
// replacements[].path, ValueAddTransformer targetFilePath, the generators'
// files, envs and env, Helm's values files). A URL there is downloaded
// by kustomize, with no timeout and no size limit.
var loadKeys = map[string]bool{"path": true, "paths": true, "targetFilePath": true, "files": true,
	"envs": true, "env": true, "valuesFile": true, "additionalValuesFiles": true, "argsFromFile": true}

// remoteLoads reports every URL that a generator, transformer or validator
// configuration n, in file, would make kustomize download. line maps a
// line of n to a line of file.
func (k *kustomization) remoteLoads(where, file string, n *yaml.Node, line func(int) int) {
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > maxYAMLDepth {
			return
		}
		if n.Kind == yaml.AliasNode {
			n = n.Alias
			if n == nil {
				return
			}
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i], n.Content[i+1]
				if loadKeys[key.Value] {
					vals := []*yaml.Node{val}
					if val.Kind == yaml.SequenceNode {
						vals = val.Content
					}
					for _, v := range vals {
						if v.Kind == yaml.ScalarNode && fetchesURL(loadValue(key.Value, v.Value)) {
							k.findings = append(k.findings, Finding{File: file, Line: line(v.Line), Severity: Error,
								Message: fmt.Sprintf("%s: %s %q would be downloaded at build time, outside the artifact: copy the file into the repository", where, key.Value, v.Value)})
							k.broken = true
						}
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
}

// loadValue is the path in a value of a load key: the generators' files
// entries may be "key=path".
func loadValue(key, v string) string {
	if key == "files" {
		if _, p, ok := strings.Cut(v, "="); ok {
			return p
		}
	}
	return v
}

// inlineObjects returns the documents of s when kustomize would read s as
// inline objects (it tries that first for generators, transformers,
// validators and patchesStrategicMerge entries) rather than as a path.
func inlineObjects(s string) ([]*yaml.Node, bool) {
	if !strings.ContainsAny(s, "\n:{") {
		return nil, false // a path
	}
	docs, err := decodeGuarded([]byte(s))
	if err != nil {
		return nil, false
	}
	var out []*yaml.Node
	for _, d := range docs {
		if d.Kind == yaml.DocumentNode && len(d.Content) == 1 && d.Content[0].Kind == yaml.MappingNode {
			out = append(out, d.Content[0])
		}
	}
	return out, len(out) > 0
}

// scalarLine maps line inner (1-based) of the text of scalar n to a line
// of the file: exact for block scalars (| and >), whose text starts on
// the next line; n's own line for the others.
func scalarLine(n *yaml.Node, inner int) int {
	if inner > 0 && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Line + inner
	}
	return n.Line
}

// patchCheckKey is the annotation a marker patch adds, to learn whether the
// target of the real patch that follows it selects anything.
const patchCheckKey = "internal.fleetpush.dev/patch-check-"

// rootBytes returns the kustomization file to build k as a root: the user's
// file plus, before each patch with a target, a marker patch with the same
// target (kustomize silently ignores a target that selects nothing; Flux
// would too, leaving the overlay without its change). Origin annotations
// (buildMetadata) are not used to find the file of an object: with them
// kustomize records every transformer on every object, which costs 40% of
// the build time; the file is found from the parsed resource files instead.
func (k *kustomization) rootBytes() ([]byte, error) {
	root := deepCopy(k.doc.root())
	if len(k.patches) > 0 {
		seq := mapValue(root, "patches")
		var out []*yaml.Node
		next := 0
		for i, item := range seq.Content {
			if next < len(k.patches) && k.patches[next].index == i {
				marker := fmt.Sprintf("apiVersion: v1\nkind: FleetpushPatchCheck\nmetadata:\n  name: fleetpush-patch-check\n  annotations:\n    %s%d: matched\n", patchCheckKey, i)
				out = append(out, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
					{Kind: yaml.ScalarNode, Value: "target"}, deepCopy(mapValue(item, "target")),
					{Kind: yaml.ScalarNode, Value: "patch"}, {Kind: yaml.ScalarNode, Value: marker, Style: yaml.LiteralStyle},
				}})
				next++
			}
			out = append(out, item)
		}
		seq.Content = out
	}
	return yaml.Marshal(root)
}

func deepCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = deepCopy(ch)
	}
	if n.Alias != nil {
		c.Alias = deepCopy(n.Alias)
	}
	return &c
}
