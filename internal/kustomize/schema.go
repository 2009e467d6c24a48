package kustomize

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imageautov1beta2 "github.com/fluxcd/image-automation-controller/api/v1beta2"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	imagev1beta2 "github.com/fluxcd/image-reflector-controller/api/v1beta2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	sourcev1beta2 "github.com/fluxcd/source-controller/api/v1beta2"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sjson "sigs.k8s.io/json"
)

// typeRegistry maps the kinds fleetpush checks to their Go API types.
//
// Strict decoding into the upstream Go types (rather than embedded JSON
// schemas) keeps the schemas exactly as current as the API modules in
// go.mod, needs no generated files in the repository, works offline, and
// catches unknown fields and wrong types, which is what breaks a reconcile.
// It does not check enums, patterns or required fields; the API server and
// the Flux controllers still do.
type typeRegistry struct {
	types  map[schema.GroupVersionKind]reflect.Type
	groups map[string]bool              // groups with at least one known version
	gvs    map[schema.GroupVersion]bool // group/versions we know
}

func newTypeRegistry() (*typeRegistry, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		networkingv1.AddToScheme, rbacv1.AddToScheme, policyv1.AddToScheme,
		autoscalingv1.AddToScheme, autoscalingv2.AddToScheme, schedulingv1.AddToScheme,
		storagev1.AddToScheme, admissionregistrationv1.AddToScheme, coordinationv1.AddToScheme,
		discoveryv1.AddToScheme, nodev1.AddToScheme, certificatesv1.AddToScheme,
		apiextensionsv1.AddToScheme,
		sourcev1.AddToScheme, sourcev1beta2.AddToScheme, kustomizev1.AddToScheme,
		helmv2.AddToScheme, notificationv1.AddToScheme, notificationv1beta3.AddToScheme,
		imagev1.AddToScheme, imagev1beta2.AddToScheme,
		imageautov1.AddToScheme, imageautov1beta2.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("registering API types: %w", err)
		}
	}
	r := &typeRegistry{
		types:  map[schema.GroupVersionKind]reflect.Type{},
		groups: map[string]bool{},
		gvs:    map[schema.GroupVersion]bool{},
	}
	for gvk, t := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal || strings.HasSuffix(gvk.Kind, "Options") ||
			gvk.Kind == "WatchEvent" || gvk.Kind == "Status" || gvk.Kind == "APIVersions" ||
			gvk.Kind == "APIGroupList" || gvk.Kind == "APIGroup" || gvk.Kind == "APIResourceList" {
			continue
		}
		r.add(gvk, t)
	}
	for gvk, t := range fluxOperatorTypes {
		r.add(gvk, t)
	}
	return r, nil
}

func (r *typeRegistry) add(gvk schema.GroupVersionKind, t reflect.Type) {
	r.types[gvk] = t
	r.groups[gvk.Group] = true
	r.gvs[gvk.GroupVersion()] = true
}

// fieldError is a problem at a path of an object.
type fieldError struct {
	path string
	msg  string
}

// substRE matches a Flux post-build substitution: ${VAR}, ${VAR:=default},
// ${VAR:-default} and friends (fluxcd/pkg/envsubst).
var substRE = regexp.MustCompile(`\$\{[_a-zA-Z][_a-zA-Z0-9]*(?:(?::?[-=+?])([^}]*))?\}`)

func hasSubst(s string) bool { return strings.Contains(s, "${") && substRE.MatchString(s) }

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// typeChecker walks a decoded object next to its Go type. It reports wrong
// types with their full path, removes the offending values so that the
// strict decoder that follows reports only unknown fields, and replaces
// Flux substitutions with a placeholder of the field's type.
type typeChecker struct {
	subst  bool // replace ${VAR} by placeholders
	errs   []fieldError
	fields *sync.Map // reflect.Type -> map[string]reflect.Type
}

func custom(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(jsonUnmarshalerType) || p.Implements(textUnmarshalerType)
}

// fits reports whether v decodes into a value of type t, with the decoding
// error if not.
func fits(t reflect.Type, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, reflect.New(t).Interface())
}

// placeholder returns a value of type t to stand in for a substitution: the
// default of ${VAR:=default} when it fits, else a zero-like value that does.
func placeholder(t reflect.Type, s string) (any, bool) {
	var cands []any
	if m := substRE.FindStringSubmatch(s); m != nil && m[0] == s && m[1] != "" {
		cands = append(cands, scalarValue(m[1]))
	}
	cands = append(cands, json.Number("0"), false, "0", "0s", "1970-01-01T00:00:00Z",
		map[string]any{}, []any{})
	for _, c := range cands {
		if fits(t, c) == nil {
			return c, true
		}
	}
	return nil, false
}

// scalarValue reads a substitution default the way YAML would read it.
func scalarValue(s string) any {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return json.Number(s)
	}
	if b, err := strconv.ParseBool(s); err == nil {
		return b
	}
	return s
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case json.Number:
		return "number " + v.String()
	case bool:
		return fmt.Sprintf("bool %t", v)
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return t.String()
}

func (c *typeChecker) wrong(path string, t reflect.Type, v any) (any, bool) {
	c.errs = append(c.errs, fieldError{path, fmt.Sprintf("wrong type: got %s, want %s", describe(v), want(t))})
	return nil, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// check returns the value to keep at path (possibly a placeholder) and
// whether to keep it at all.
func (c *typeChecker) check(t reflect.Type, v any, path string) (any, bool) {
	if v == nil {
		return nil, true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := v.(string); ok && c.subst && hasSubst(s) {
		if fits(t, s) == nil {
			return s, true
		}
		if p, ok := placeholder(t, s); ok {
			return p, true
		}
	}
	if custom(t) {
		if err := fits(t, v); err != nil {
			msg := err.Error()
			var te *json.UnmarshalTypeError
			if asTypeError(err, &te) {
				msg = fmt.Sprintf("wrong type: got %s", describe(v))
			}
			c.errs = append(c.errs, fieldError{path, fmt.Sprintf("invalid value %s: %s", describe(v), strings.TrimPrefix(msg, "json: "))})
			return nil, false
		}
		return v, true
	}
	switch t.Kind() {
	case reflect.Interface:
		return v, true
	case reflect.String:
		if _, ok := v.(string); !ok {
			return c.wrong(path, t, v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return c.wrong(path, t, v)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return c.wrong(path, t, v)
		}
		i, err := n.Int64()
		if err != nil {
			return c.wrong(path, t, v)
		}
		if reflect.New(t).Elem().OverflowInt(i) {
			c.errs = append(c.errs, fieldError{path, fmt.Sprintf("value %s out of range for %s", n, t.Kind())})
			return nil, false
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			return c.wrong(path, t, v)
		}
		i, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil || reflect.New(t).Elem().OverflowUint(i) {
			return c.wrong(path, t, v)
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			return c.wrong(path, t, v)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			s, ok := v.(string)
			if !ok {
				return c.wrong(path, t, v)
			}
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				c.errs = append(c.errs, fieldError{path, "invalid value: not base64-encoded"})
				return nil, false
			}
			return v, true
		}
		a, ok := v.([]any)
		if !ok {
			return c.wrong(path, t, v)
		}
		out := a[:0]
		for i, e := range a {
			if nv, keep := c.check(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i)); keep {
				out = append(out, nv)
			}
		}
		return out, true
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return c.wrong(path, t, v)
		}
		for _, k := range sortedKeys(m) {
			if nv, keep := c.check(t.Elem(), m[k], join(path, k)); keep {
				m[k] = nv
			} else {
				delete(m, k)
			}
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return c.wrong(path, t, v)
		}
		fields := c.structFields(t)
		for _, k := range sortedKeys(m) {
			ft, known := fields[k]
			if !known {
				continue // the strict decoder reports unknown fields
			}
			if nv, keep := c.check(ft, m[k], join(path, k)); keep {
				m[k] = nv
			} else {
				delete(m, k)
			}
		}
	}
	return v, true
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// structFields maps the JSON names of t's fields (inlined embedded structs
// included) to their types, as encoding/json sees them.
func (c *typeChecker) structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := c.fields.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := out[name]; !dup {
				out[name] = f.Type
			}
		}
	}
	walk(t)
	c.fields.Store(t, out)
	return out
}

// strictDecode decodes obj into a new value of t, rejecting unknown and
// duplicate fields.
func strictDecode(t reflect.Type, obj map[string]any) []fieldError {
	data, err := json.Marshal(obj)
	if err != nil {
		return []fieldError{{"", err.Error()}}
	}
	strict, err := sjson.UnmarshalStrict(data, reflect.New(t).Interface(),
		sjson.DisallowDuplicateFields, sjson.DisallowUnknownFields)
	var out []fieldError
	for _, e := range strict {
		if fe, ok := e.(sjson.FieldError); ok {
			msg := strings.TrimPrefix(fe.Error(), "json: ")
			if strings.HasPrefix(msg, "unknown field") {
				msg = "unknown field"
			} else if strings.HasPrefix(msg, "duplicate field") {
				msg = "duplicate field"
			}
			out = append(out, fieldError{fe.FieldPath(), msg})
			continue
		}
		out = append(out, fieldError{"", strings.TrimPrefix(e.Error(), "json: ")})
	}
	if err != nil {
		path := ""
		var te *json.UnmarshalTypeError
		if asTypeError(err, &te) {
			path = te.Field
		}
		out = append(out, fieldError{path, strings.TrimPrefix(err.Error(), "json: ")})
	}
	return out
}

func asTypeError(err error, target **json.UnmarshalTypeError) bool { return errors.As(err, target) }
