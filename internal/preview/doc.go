// Package preview compares two rendered object sets of one component (what the registry serves
// now and what a pull request would publish) and says, per kustomization folder ("overlay"),
// which objects are added, removed or changed, and how.
//
// It is pure: it takes the objects each side rendered (JSON, as kustomize marshals them) and the
// artifact's files, and returns plain values. Rendering them, reading the registry and writing
// the result to each sink belong to other packages.
//
// Objects match by API group, kind, namespace and name. Each is normalised before comparing
// (keys sorted, comments gone, status dropped, numbers written one way), so an edit that only
// changes formatting is no change. Before anything is compared, every value a reviewer must not
// see is replaced by a short keyed hash: the values of a core Secret's data and stringData, and
// every SOPS-encrypted string ("ENC[...]") in any object, the sops metadata included. The hash
// key is random per Compare call unless WithKey sets it, so a hash shows that a value changed
// and says nothing about the value itself, not even to a dictionary of guesses.
package preview
