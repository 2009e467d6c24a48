package preview

import (
	"fmt"
	"strings"
)

// podSpecPath is where each workload kind keeps its pod spec.
var podSpecPath = map[string][]string{
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
	"Pod":         {"spec"},
}

// scalable kinds carry spec.replicas.
var scalable = map[string]bool{"Deployment": true, "StatefulSet": true, "ReplicaSet": true}

// notes summarises the image, replica and chart changes of one object that exists on both sides.
func notes(id Object, old, new map[string]any) []Note {
	if old == nil || new == nil {
		return nil
	}
	var out []Note
	if p, ok := podSpecPath[id.Kind]; ok && (id.Group == "" || id.Group == "apps" || id.Group == "batch") {
		out = append(out, imageNotes(id, at(old, p...), at(new, p...))...)
	}
	if scalable[id.Kind] && id.Group == "apps" {
		o, n := scalar(at(old, "spec", "replicas")), scalar(at(new, "spec", "replicas"))
		if o != n {
			out = append(out, Note{Object: id, What: "replicas", From: o, To: n})
		}
	}
	if id.Kind == "HelmRelease" && id.Group == "helm.toolkit.fluxcd.io" {
		o, n := scalar(at(old, "spec", "chart", "spec", "version")), scalar(at(new, "spec", "chart", "spec", "version"))
		if o != n {
			chart := scalar(at(new, "spec", "chart", "spec", "chart"))
			if chart == "" {
				chart = scalar(at(old, "spec", "chart", "spec", "chart"))
			}
			out = append(out, Note{Object: id, What: "chart", Target: chart, From: o, To: n})
		}
	}
	return out
}

// imageNotes compares the images of the containers and init containers of two pod specs,
// container by container name.
func imageNotes(id Object, old, new any) []Note {
	images := func(spec any) (names []string, byName map[string]string) {
		byName = map[string]string{}
		for _, field := range []string{"initContainers", "containers"} {
			list, _ := at(spec, field).([]any)
			for _, c := range list {
				name := scalar(at(c, "name"))
				if _, dup := byName[name]; !dup {
					names = append(names, name)
				}
				byName[name] = scalar(at(c, "image"))
			}
		}
		return names, byName
	}
	_, o := images(old)
	names, n := images(new)
	var out []Note
	for _, name := range names {
		from, had := o[name]
		to := n[name]
		if !had || from == to {
			continue // a new container shows in the diff
		}
		fr, ft := splitImage(from)
		tr, tt := splitImage(to)
		if fr == tr {
			out = append(out, Note{Object: id, What: "image", Target: tr, From: ft, To: tt})
		} else {
			out = append(out, Note{Object: id, What: "image", From: from, To: to})
		}
	}
	return out
}

// splitImage splits an image reference into its repository and its tag, digest or both.
func splitImage(ref string) (repo, version string) {
	name, digest, hasDigest := strings.Cut(ref, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo, version = name[:i], name[i+1:]
	} else {
		repo = name
	}
	if hasDigest {
		if version != "" {
			version += "@"
		}
		version += digest
	}
	return repo, version
}

// chartRefNotes reports a HelmRelease whose chartRef names an OCIRepository (or HelmChart) of the
// overlay whose ref changed, as d2-apps pins its charts: the chart version moves there.
func chartRefNotes(old, new map[string]*rendered) []Note {
	var out []Note
	for _, k := range unionKeys(new, nil) {
		hr := new[k]
		if hr.id.Kind != "HelmRelease" || hr.id.Group != "helm.toolkit.fluxcd.io" {
			continue
		}
		ref, ok := at(hr.object(), "spec", "chartRef").(map[string]any)
		if !ok {
			continue
		}
		kind, name := scalar(ref["kind"]), scalar(ref["name"])
		ns := scalar(ref["namespace"])
		if ns == "" {
			ns = hr.id.Namespace
		}
		src := Object{Group: "source.toolkit.fluxcd.io", Kind: kind, Namespace: ns, Name: name}
		o, n := old[src.key()], new[src.key()]
		if o == nil || n == nil {
			continue
		}
		oo, no := o.object(), n.object()
		if oo == nil || no == nil {
			continue
		}
		from, to := sourceRef(oo), sourceRef(no)
		if from != to {
			out = append(out, Note{Object: hr.id, What: "chart", Target: scalar(at(no, "spec", "url")), From: from, To: to})
		}
	}
	return out
}

// sourceRef is an OCIRepository's spec.ref (or a HelmChart's spec.version) as one string.
func sourceRef(obj map[string]any) string {
	if v := scalar(at(obj, "spec", "version")); v != "" {
		return v
	}
	ref, _ := at(obj, "spec", "ref").(map[string]any)
	var parts []string
	for _, f := range []string{"digest", "semver", "tag"} { // Flux's order of precedence
		if v := scalar(ref[f]); v != "" {
			parts = append(parts, v)
			break
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return parts[0]
}

func at(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// scalar writes a scalar value as text; "" for nothing or a non-scalar.
func scalar(v any) string {
	switch t := v.(type) {
	case nil, map[string]any, []any:
		return ""
	case string:
		return t
	default:
		return fmt.Sprint(t)
	}
}
