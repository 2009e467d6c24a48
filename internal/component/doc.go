// Package component owns discovery: which artifacts a repository holds and where. In component
// mode they are the immediate sub-folders of components-dir that hold at least one kustomization
// (anywhere below them), or an explicit list; in single-artifact mode one folder is the artifact.
// Names are DNS-1123 labels, because they become OCI repository path segments and Flux object
// names. Everything here is a pure function over an fs.FS.
package component
