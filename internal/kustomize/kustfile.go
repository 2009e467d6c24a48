package kustomize

import (
	"fmt"
	"path"
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
	findings  []Finding
	broken    bool      // cannot be built: a finding explains why
	patches   []patchAt // patches with a target, by index in "patches"
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
// from outside the file system it was given: kustomize clones anything it
// parses as a git URL (a scheme, user@host, or github.com/...) with the git
// binary, and downloads http(s) files with an HTTP client. Both are refused
// before kustomize sees them.
func isRemote(ref string) bool {
	s := strings.ToLower(strings.TrimSpace(ref))
	s = strings.TrimPrefix(s, "git::")
	if strings.Contains(s, "://") {
		return true
	}
	if strings.HasPrefix(s, "github.com/") || strings.HasPrefix(s, "github.com:") {
		return true
	}
	if at := strings.IndexByte(s, '@'); at > 0 {
		if slash := strings.IndexByte(s, '/'); slash < 0 || at < slash {
			return true
		}
	}
	return false
}

// fileSet is what a kustomization can resolve references against.
type fileSet interface {
	isFile(p string) bool
	isDir(p string) bool
	kustomizationIn(dir string) string
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
	scalars := func(key string) []*yaml.Node {
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
		for _, n := range scalars(key) {
			if strings.Contains(n.Value, "\n") {
				continue // an inline configuration or patch
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
	ref := strings.TrimSpace(n.Value)
	if ref == "" {
		return
	}
	if isRemote(ref) {
		k.addf(n.Line, Error, "%s: remote %q is not allowed: remote bases and URLs are fetched at build time, outside the artifact; copy the files into the repository", field, ref)
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
	switch {
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
	case fs.isFile(p):
		if kind == refDir {
			k.addf(n.Line, Error, "%s: %q is a file, not a folder with a kustomization", field, ref)
			return
		}
		if k.dir != "." && !strings.HasPrefix(p, k.dir+"/") {
			k.addf(n.Line, Error, "%s: %q is outside the folder of this kustomization, which kustomize load restrictions forbid: move the file, or make its folder a base with its own kustomization", field, ref)
			return
		}
		k.files = append(k.files, p)
		if field == "resources" || field == "bases" {
			k.resources = append(k.resources, p)
		}
	default:
		k.addf(n.Line, Error, "%s: %q does not exist in the artifact: it would be missing in the cluster", field, ref)
	}
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
