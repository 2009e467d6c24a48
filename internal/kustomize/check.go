package kustomize

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

type schemaResult struct {
	path   string
	msg    string
	notice bool
}

// checkSchema checks obj against the Go type of its kind, or an external
// schema for kinds fleetpush does not know.
func (v *Validator) checkSchema(apiVersion, kind string, obj map[string]any, subst bool, locations []string) []schemaResult {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return []schemaResult{{path: "apiVersion", msg: fmt.Sprintf("invalid apiVersion %q", apiVersion)}}
	}
	if apiVersion == "builtin" {
		return []schemaResult{{notice: true, msg: fmt.Sprintf("%s %s is a kustomize plugin configuration, not a cluster object: not checked", kind, apiVersion)}}
	}
	gvk := gv.WithKind(kind)
	t, ok := v.types.types[gvk]
	if !ok {
		switch {
		case v.types.gvs[gv]:
			return []schemaResult{{msg: fmt.Sprintf("unknown kind %q in apiVersion %s", kind, apiVersion)}}
		case len(locations) > 0:
			res, found := v.schemas.validate(locations, gvk, obj, subst)
			if found {
				return res
			}
		}
		if v.types.groups[gv.Group] {
			return []schemaResult{{notice: true, msg: fmt.Sprintf("%s %s not checked: fleetpush knows other versions of %s", kind, apiVersion, gv.Group)}}
		}
		return []schemaResult{{notice: true, msg: fmt.Sprintf("%s %s not checked: no schema for this kind", kind, apiVersion)}}
	}
	tc := &typeChecker{subst: subst, fields: &v.fields}
	tc.check(t, obj, "")
	var out []schemaResult
	for _, e := range tc.errs {
		out = append(out, schemaResult{path: e.path, msg: e.msg})
	}
	for _, e := range strictDecode(t, obj) {
		out = append(out, schemaResult{path: e.path, msg: e.msg})
	}
	return out
}
