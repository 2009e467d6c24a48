package kustomize

import (
	"fmt"
	"strconv"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// secretMessage is the one wording of a plain Secret, so a Secret found
// both in its file and in a build is reported once.
func secretMessage(id, field string) string {
	return fmt.Sprintf("%s: plain-text %s in a Secret would be readable by every cluster and by anyone who can pull the artifact: encrypt it with SOPS", id, field)
}

// checkSecretFiles reports every plain Secret in every file of the
// artifact, whether a kustomization lists the file or not: the artifact
// publishes all of its files, so a Secret nobody builds is as readable
// as one that is deployed.
func (a *artifact) checkSecretFiles() {
	for _, p := range sortedKeysBool(a.files) {
		yf := a.yaml[p]
		if yf == nil {
			continue
		}
		for _, d := range yf.docs {
			root := d.root()
			a.checkSecretNode(p, root)
			// kustomize and kubectl unwrap a List into its items.
			if items := mapValue(root, "items"); items != nil && items.Kind == yaml.SequenceNode && isObject(root) {
				for _, it := range items.Content {
					a.checkSecretNode(p, it)
				}
			}
		}
	}
}

func (a *artifact) checkSecretNode(p string, n *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode || mapValue(n, "sops") != nil {
		return
	}
	av, kind := mapValue(n, "apiVersion"), mapValue(n, "kind")
	if av == nil || kind == nil || av.Value != "v1" || kind.Value != "Secret" {
		return
	}
	name := ""
	if nm := mapValue(mapValue(n, "metadata"), "name"); nm != nil {
		name = nm.Value
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Value != "data" && key.Value != "stringData" || val.Kind != yaml.MappingNode || !plainValues(val) {
			continue
		}
		a.add(Finding{File: p, Line: key.Line, Severity: Error, Message: secretMessage("Secret/"+name, key.Value)})
		a.secrets[p+":"+strconv.Itoa(key.Line)] = true
	}
}

// plainValues reports whether a Secret's data holds a value that is not
// only a Flux substitution (${VAR}), which the cluster fills in from
// elsewhere (postBuild.substituteFrom).
func plainValues(m *yaml.Node) bool {
	for i := 1; i < len(m.Content); i += 2 {
		v := m.Content[i]
		if v.Kind != yaml.ScalarNode || !isOnlySubst(v.Value) {
			return true
		}
	}
	return false
}

func isOnlySubst(s string) bool {
	return s != "" && substRE.ReplaceAllString(s, "") == ""
}

// plainMap is plainValues for a rendered object's data.
func plainMap(m map[string]any) bool {
	for _, v := range m {
		if s, ok := v.(string); !ok || !isOnlySubst(s) {
			return true
		}
	}
	return false
}
