package kustomize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/fleetpush/fleetpush/internal/checkout"
	"github.com/santhosh-tekuri/jsonschema/v5"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/fleetpush/fleetpush/internal/inputfile"
)

// defaultSchemaLayout is appended to a schema location without a template:
// the layout of kubeconform's CRD catalogs.
const defaultSchemaLayout = "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"

var additionalRE = regexp.MustCompile(`^additionalProperties ('[^']+'(?:, '[^']+')*) not allowed$`)

func checkSchemaLocations(locs []string) error {
	for _, l := range locs {
		if strings.Contains(l, "://") && !strings.HasPrefix(l, "file://") {
			return fmt.Errorf("schema location %q is not a local path: validation runs offline; download the schemas and pass their folder", l)
		}
		rest := templateVarRE.ReplaceAllString(l, "")
		if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
			return fmt.Errorf("schema location %q: unknown template: use {{ .Group }}, {{ .ResourceKind }}, {{ .ResourceAPIVersion }}, {{ .KindSuffix }}, {{ .NormalizedKubernetesVersion }} or {{ .StrictSuffix }}", l)
		}
		if err := readableDir(schemaBase(l)); err != nil {
			return fmt.Errorf("schema location %q cannot be read (%w): check the schema-locations input", l, err)
		}
	}
	return nil
}

// schemaBase is the folder a schema location reads from: the location
// itself when it has no template, else the folder before the first
// template variable. A missing or unreadable one is an error, never a
// location that quietly covers nothing.
func schemaBase(l string) string {
	l = strings.TrimPrefix(l, "file://")
	i := strings.Index(l, "{{")
	if i < 0 {
		return l
	}
	l = l[:i]
	j := strings.LastIndexAny(l, `/`+string(os.PathSeparator))
	switch {
	case j < 0:
		return "."
	case j == 0:
		return l[:1]
	}
	return l[:j]
}

func readableDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if _, err := f.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// schemaCache compiles each external schema file once.
type schemaCache struct {
	mu    sync.Mutex
	m     map[string]*compiled
	limit int64 // largest schema file read, in bytes
}

type compiled struct {
	schema *jsonschema.Schema
	err    error
}

func newSchemaCache(limit int64) *schemaCache {
	return &schemaCache{m: map[string]*compiled{}, limit: limit}
}

// templateVarRE matches the kubeconform template variables. They are
// expanded by hand: text/template would make the linker keep every
// exported method of every API type (it looks methods up by name).
var templateVarRE = regexp.MustCompile(`\{\{-?\s*\.(Group|ResourceKind|ResourceAPIVersion|Kind|KindSuffix|NormalizedKubernetesVersion|StrictSuffix)\s*-?\}\}`)

func schemaPaths(locs []string, gvk schema.GroupVersionKind) []string {
	vars := map[string]string{"Group": gvk.Group, "ResourceKind": strings.ToLower(gvk.Kind),
		"ResourceAPIVersion": gvk.Version, "Kind": gvk.Kind, "NormalizedKubernetesVersion": "master",
		"StrictSuffix": "-strict", "KindSuffix": "-" + gvk.Version}
	if gvk.Group != "" {
		g, _, _ := strings.Cut(gvk.Group, ".")
		vars["KindSuffix"] = "-" + g + "-" + gvk.Version
	}
	var out []string
	for _, l := range locs {
		l = strings.TrimPrefix(l, "file://")
		if !strings.Contains(l, "{{") {
			l = strings.TrimSuffix(l, "/") + defaultSchemaLayout
		}
		out = append(out, templateVarRE.ReplaceAllStringFunc(l, func(m string) string {
			return vars[templateVarRE.FindStringSubmatch(m)[1]]
		}))
	}
	return out
}

func (c *schemaCache) get(p string) (*compiled, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[p]; ok {
		return s, true
	}
	data, err := readSchema(p, c.limit)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	s := &compiled{err: err}
	if err == nil {
		comp := jsonschema.NewCompiler()
		// Schemas are local files; nothing is fetched, not even a $ref.
		comp.LoadURL = func(u string) (io.ReadCloser, error) {
			return nil, fmt.Errorf("schema reference %q not loaded: validation runs offline", u)
		}
		url := "file:///" + strings.TrimPrefix(p, "/")
		if err := comp.AddResource(url, bytes.NewReader(data)); err != nil {
			s.err = err
		} else {
			s.schema, s.err = comp.Compile(url)
		}
	}
	c.m[p] = s
	return s, true
}

// readSchema reads a schema file through the one bounded reader of files an input names: a
// FIFO there (or a symlink to one, or to a device) would otherwise hang validation or never end.
func readSchema(p string, limit int64) ([]byte, error) {
	// Schemas usually live in the checkout, where a link may lead into .git (actions/checkout
	// keeps the job's token in .git/config): the file is opened at its real path, and refused
	// when that passes through a .git folder.
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, err
	}
	if checkout.InGit(real) {
		return nil, fmt.Errorf("%s leads into a .git folder (%s), which is never read: git keeps credentials there; give schemas outside .git, and no link into it", p, real)
	}
	data, err := inputfile.Read(inputfile.Kind{Input: "schema-locations", Holds: "a JSON schema", Max: limit}, real)
	if errors.Is(err, inputfile.ErrTooLarge) {
		err = fmt.Errorf("more than the %d bytes allowed: raise the max-file-size input", limit)
	}
	return data, err
}

// validate checks obj against the first schema found for gvk.
func (c *schemaCache) validate(locs []string, gvk schema.GroupVersionKind, obj map[string]any, subst bool) ([]schemaResult, bool) {
	for _, p := range schemaPaths(locs, gvk) {
		s, ok := c.get(p)
		if !ok {
			continue
		}
		if s.err != nil {
			return []schemaResult{{msg: fmt.Sprintf("schema %s: %v", p, s.err)}}, true
		}
		err := s.schema.Validate(jsonValue(obj))
		var ve *jsonschema.ValidationError
		if err == nil || !errors.As(err, &ve) {
			if err != nil {
				return []schemaResult{{msg: err.Error()}}, true
			}
			return nil, true
		}
		var out []schemaResult
		var walk func(e *jsonschema.ValidationError)
		walk = func(e *jsonschema.ValidationError) {
			if len(e.Causes) > 0 {
				for _, c := range e.Causes {
					walk(c)
				}
				return
			}
			segs := pointerPath(e.InstanceLocation)
			if v, ok := valueAt(obj, segs); ok && subst && hasSubst(v) {
				return // a substitution: its value is known only in the cluster
			}
			if m := additionalRE.FindStringSubmatch(e.Message); m != nil {
				for _, name := range strings.Split(m[1], ", ") {
					out = append(out, schemaResult{path: join(segs, strings.Trim(name, "'")), msg: "unknown field"})
				}
				return
			}
			out = append(out, schemaResult{path: segs, msg: e.Message})
		}
		walk(ve)
		return out, true
	}
	return nil, false
}

// jsonValue converts json.Number leaves to what the schema library expects.
func jsonValue(v any) any {
	b, _ := json.Marshal(v)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	_ = d.Decode(&out)
	return out
}

// pointerPath turns a JSON pointer "/spec/items/0/name" into "spec.items[0].name".
func pointerPath(ptr string) string {
	var b strings.Builder
	for _, s := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if s == "" {
			continue
		}
		s = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
		if _, err := strconv.Atoi(s); err == nil {
			b.WriteString("[" + s + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}
