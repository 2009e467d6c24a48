// Package kustomize owns step 5 of a fleetpush run: it validates an
// artifact before it is published, over exactly the files the artifact
// carries.
//
// For every folder of the artifact that holds a kustomization (bases and
// overlays alike; not folders of kind Component, which are checked through
// the kustomizations that use them) it runs kustomize in-process over an
// in-memory copy of the artifact, so a file the artifact lacks fails here as
// it would in the cluster. Load restrictions are on (root only), plugins,
// exec and container functions and Helm are off, and remote bases and URLs
// are refused before kustomize could clone or download them.
//
// kustomize runs over a read-only file system of exactly the artifact's
// files (any name git accepts), so nothing outside the artifact can be
// read however a path is spelled, and a URL that a plugin configuration
// would make kustomize download is refused before the build. Every file,
// whatever its name, and every string that kustomize may parse as YAML
// (inline patches and configurations) first goes through one guarded
// decoder that bounds alias expansion, nesting and size, so a YAML bomb
// is a finding, not an exhausted machine.
//
// Memory and time are bounded per run, not per file: a [Budget], made once
// a run and shared by the components validated at once, is charged with
// every file's bytes before it is decoded and with the nodes decoding
// yields, aliases copied. Each build is estimated from the kustomization
// graph before kustomize runs (a folder listed N times renders N times,
// nested, and components, generators and patches that select every
// object add to it), refused past its budget, and what kustomize returns
// is bounded too. Every such error names the component, the budget and
// the input that raises it. A kustomization that only lists files and
// folders is rendered with kustomize's own reader, not through its
// resource map, which compares every object with all before it: so
// validation time is linear in the objects.
//
// Every rendered object is then checked: apiVersion, kind and metadata.name
// present; no two objects with the same group, kind, namespace and name; a
// Secret may not carry plain data (SOPS-encrypted ones pass), whether a
// build renders it or it sits in a file no kustomization lists, decided on
// what the decoder yields (aliases and merge keys followed, Lists
// unwrapped); and the object is decoded strictly, offline, into the upstream Go API types of the
// Kubernetes built-in kinds and of the Flux kinds, so unknown fields and
// wrong types are reported with their path. Flux post-build substitutions
// (${VAR}, ${VAR:=default}) are replaced by a placeholder of the field's
// type before the type check, so they never cause a false error; objects
// annotated kustomize.toolkit.fluxcd.io/substitute: disabled keep them.
// Other kinds (custom resources) pass with a notice unless a kubeconform
// style schema location covers them; a location that cannot be read is an
// error. An artifact from which Flux would apply no object is an error
// unless [WithAllowEmpty] says it is intended: what counts is what the
// builds render and, in folders without a kustomization, the objects of
// the .yaml and .yml files that kustomize-controller's generated
// kustomization lists (not .json); a kustomization that no other uses and
// that renders nothing is an error too.
//
// Problems are returned as [Finding] values, all of them, each naming the
// file that defined the object (relative to the repository, via
// [Options.Prefix]) and the line where it can be known.
package kustomize
