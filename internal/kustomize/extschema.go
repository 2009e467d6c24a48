package kustomize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// defaultSchemaLayout is appended to a schema location without a template:
// the layout of kubeconform's CRD catalogs.
const defaultSchemaLayout = "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"

func checkSchemaLocations(locs []string) error {
	for _, l := range locs {
		if strings.Contains(l, "://") && !strings.HasPrefix(l, "file://") {
			return fmt.Errorf("schema location %q is not a local path: validation runs offline; download the schemas and pass their folder", l)
		}
		if _, err := template.New("").Parse(l); err != nil {
			return fmt.Errorf("schema location %q: %w", l, err)
		}
	}
	return nil
}

// schemaCache compiles each external schema file once.
type schemaCache struct {
	mu sync.Mutex
	m  map[string]*compiled
}

type compiled struct {
	schema *jsonschema.Schema
	err    error
}

func newSchemaCache() *schemaCache { return &schemaCache{m: map[string]*compiled{}} }

type schemaVars struct {
	Group, ResourceKind, ResourceAPIVersion, Kind, KindSuffix, NormalizedKubernetesVersion, StrictSuffix string
}

func schemaPaths(locs []string, gvk schema.GroupVersionKind) []string {
	vars := schemaVars{Group: gvk.Group, ResourceKind: strings.ToLower(gvk.Kind), ResourceAPIVersion: gvk.Version,
		Kind: gvk.Kind, NormalizedKubernetesVersion: "master", StrictSuffix: "-strict"}
	vars.KindSuffix = "-" + gvk.Version
	if gvk.Group != "" {
		g, _, _ := strings.Cut(gvk.Group, ".")
		vars.KindSuffix = "-" + g + "-" + gvk.Version
	}
	var out []string
	for _, l := range locs {
		l = strings.TrimPrefix(l, "file://")
		if !strings.Contains(l, "{{") {
			l = strings.TrimSuffix(l, "/") + defaultSchemaLayout
		}
		t, err := template.New("").Parse(l)
		if err != nil {
			continue
		}
		var b bytes.Buffer
		if t.Execute(&b, vars) == nil {
			out = append(out, b.String())
		}
	}
	return out
}

func (c *schemaCache) get(p string) (*compiled, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[p]; ok {
		return s, true
	}
	data, err := os.ReadFile(p)
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
			if v, ok := valueAt(obj, fieldPath(segs)); ok && subst && hasSubst(v) {
				return // a substitution: its value is known only in the cluster
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
