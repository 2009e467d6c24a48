// Package checkout owns how a path inside the checkout is resolved: the one
// function, [Resolve], through which every reader of repository files finds
// what a path names (component discovery, components-dir, path, and every
// symlink the artifact builder meets). Symlinks are followed element by
// element, each ".." applied to what the links led to, as the kernel does,
// confined to the root of the file system given:
//
//   - a path that passes through a folder named .git (in any letter case, so
//     that a case-insensitive file system cannot be used to reach it) is
//     refused ([ErrGit]): git keeps credentials there, and actions/checkout
//     writes the job's token to .git/config;
//   - a link that leads above the root, or to an absolute path outside it,
//     is refused ([ErrOutside]);
//   - more than [MaxLinks] links on one path is a loop ([ErrLoop]);
//   - a caller's rule (the artifact's ignore patterns) is applied to every
//     link followed after the first and to what the path resolves to
//     ([ErrIgnored]): a link cannot publish what the rules leave out.
//
// Every error is a [*LinkError] that names the path, each link followed with
// its target, the rule, and what to do.
package checkout
