// Package component owns discovery: which artifacts a repository holds and where. In component
// mode they are the immediate sub-folders of components-dir that hold at least one kustomization
// (anywhere below them), or an explicit list; in single-artifact mode one folder is the artifact.
// Names are DNS-1123 labels, because they become OCI repository path segments and Flux object
// names. Everything here is a pure function over an fs.FS, whose root is the checkout: every
// symlink on the way to a component, components-dir or path is resolved by checkout.Resolve, the
// one resolution every reader of the checkout goes through. One that leads out of the checkout
// (ErrOutside) or into a .git folder (ErrGit), or a loop, is an error naming the input and each
// link, so no file from outside the checkout or from git's own folder can reach an artifact.
package component
