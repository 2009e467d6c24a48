package kustomize

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// secretMessage is the one wording of a plain Secret, so a Secret found
// both in its file and in a build is reported once.
func secretMessage(id, field string) string {
	return fmt.Sprintf("%s: plain-text %s in a Secret would be readable by every cluster and by anyone who can pull the artifact: encrypt it with SOPS", id, field)
}

// checkSecretFiles reports every plain Secret in every file of the
// artifact, whatever its name and whether a kustomization lists the file
// or not: the artifact publishes all of its files, so a Secret nobody
// builds is as readable as one that is deployed. It decides on what the
// decoder yields, not on the text: a Secret whose kind, data or fields
// come through an alias or a merge key, or that is an item of a List (a
// List's items nested in a List too), is seen as kustomize and kubectl see
// it.
func (a *artifact) checkSecretFiles() {
	for _, p := range sortedKeysBool(a.files) {
		yf := a.yaml[p]
		if yf == nil {
			continue
		}
		for _, d := range yf.docs {
			a.checkSecretObject(p, d.root(), 0, 0)
		}
		// The text after a syntax error is published too.
		for _, pd := range yf.pieces {
			a.checkSecretObject(p, pd.node, 0, pd.line-1)
		}
	}
}

// checkSecretObject reports the plain Secrets of n, whose lines are lines
// of file p once offset is added.
func (a *artifact) checkSecretObject(p string, n *yaml.Node, depth, offset int) {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > maxYAMLDepth {
		return
	}
	if items, ok := listItems(n); ok {
		for _, it := range items {
			a.checkSecretObject(p, it, depth+1, offset)
		}
		return
	}
	if !isPlainSecretKind(n) {
		return
	}
	sops := len(entries(n, "sops")) > 0
	name := scalarField(field(n, "metadata"), "name")
	for _, key := range []string{"data", "stringData"} {
		for _, e := range entries(n, key) {
			if e.val.Kind != yaml.MappingNode || !plainValues(e.val, sops) {
				continue
			}
			line := e.key.Line + offset
			if a.secrets[p+":"+strconv.Itoa(line)] {
				continue // seen in the documents before the syntax error
			}
			a.add(Finding{File: p, Line: line, Severity: Error, Message: secretMessage("Secret/"+name, key)})
			a.secrets[p+":"+strconv.Itoa(line)] = true
			a.secrets[secretKey(p, name, key)] = true
		}
	}
}

// secretKey names a reported Secret's field, so the build that renders it
// does not report it again.
func secretKey(file, name, field string) string { return file + "\x00" + name + "\x00" + field }

// isPlainSecretKind reports whether n is a core v1 Secret. A repeated
// kind or apiVersion counts if any of its values says so: readers differ
// on which one they take.
func isPlainSecretKind(n *yaml.Node) bool {
	is := func(key, want string) bool {
		for _, v := range fields(n, key) {
			if v.Kind == yaml.ScalarNode && v.Value == want {
				return true
			}
		}
		return false
	}
	return is("kind", "Secret") && is("apiVersion", "v1")
}

// plainValues reports whether a Secret's data holds a value that is not
// only a Flux substitution (${VAR}), which the cluster fills in from
// elsewhere (postBuild.substituteFrom). Beside SOPS metadata (sops is
// true) a value must also be encrypted, ENC[...] as SOPS writes it: a
// "sops:" key added to a plain Secret, or a key SOPS was told to leave
// alone, publishes the value as readable as without it.
func plainValues(m *yaml.Node, sops bool) bool {
	for i := 1; i < len(m.Content); i += 2 {
		v := resolve(m.Content[i])
		if v == nil || v.Kind != yaml.ScalarNode || !isOnlySubst(v.Value) && !(sops && isEncrypted(v.Value)) {
			return true
		}
	}
	return false
}

func isOnlySubst(s string) bool {
	return s != "" && substRE.ReplaceAllString(s, "") == ""
}

// isEncrypted reports whether s is a value SOPS encrypted.
func isEncrypted(s string) bool { return strings.HasPrefix(s, "ENC[") && strings.HasSuffix(s, "]") }

// plainMap is plainValues for a rendered object's data.
func plainMap(m map[string]any, sops bool) bool {
	for _, v := range m {
		if s, ok := v.(string); !ok || !isOnlySubst(s) && !(sops && isEncrypted(s)) {
			return true
		}
	}
	return false
}
