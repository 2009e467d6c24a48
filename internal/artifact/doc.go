// Package artifact owns step 4 and the artifact half of step 7 of a
// fleetpush run: it turns a component folder on disk into the one
// deterministic tar+gzip layer that Flux consumes, and wraps that layer in an
// OCI image with the Flux media types and annotations.
//
// # The layer
//
// [Build] walks the folder the way Flux's "flux push artifact" builder does
// (fluxcd/pkg oci Build: filepath.Walk order, that is depth first with the
// names of each directory sorted byte-wise), and writes:
//
//   - a root entry "." and then every directory and regular file below it,
//     named by its slash-separated path relative to the folder, without "./"
//     and without a trailing "/";
//   - headers as archive/tar's FileInfoHeader fills them, with uid and gid 0,
//     empty user and group names and zero modification, access and change
//     times (archive/tar writes a zero time as 0, the Unix epoch, and picks
//     the USTAR format, or PAX for names USTAR cannot hold);
//   - modes normalised to 0755 for directories and for files with any
//     execute bit, 0644 for all other files, so umask and checkout tools do
//     not change the digest (Flux keeps the modes found on disk, which are
//     these for a checkout under umask 022);
//   - gzip from compress/gzip at the default level with an empty header: no
//     name, no comment, mtime 0, OS "unknown" (bytes 1f8b08000000000000ff).
//
// For a tree with 0644 files and 0755 directories the layer is byte for byte
// the one Flux builds, so digests can be compared across the two tools (the
// deflate stream is whatever the Go toolchain's compress/flate produces; it
// has been stable across Go releases for years).
//
// Nothing in the layer depends on the clock, the time zone, the umask, file
// owners, file times or the order in which files were created.
//
// # Ignore patterns
//
// The Flux defaults are always applied first:
//
//	.git/ .gitignore .gitmodules .gitattributes
//	*.jpg *.jpeg *.gif *.png *.wmv *.flv *.tar.gz *.zip
//
// then the patterns given with [WithIgnore], in order; a later pattern wins
// over an earlier one, so "!logo.png" brings a default-ignored file back.
// Each option value may hold several patterns, one a line; blank lines and
// lines starting with "#" are skipped. The syntax and meaning are those of
// Flux's matcher (go-git's gitignore semantics), matched against the path
// relative to the artifact root:
//
//   - a pattern without "/" (after removing a trailing "/") matches any path
//     with a segment that matches it, so "*.png" matches "a/b/c.png" and
//     "tmp" matches "tmp", "x/tmp" and everything under them;
//   - a trailing "/" restricts the final segment to directories: ".git/"
//     matches the directory ".git" and everything inside it, not a file
//     named ".git";
//   - a pattern with a "/" is anchored at the root and matched segment by
//     segment ("/x" and "x/y" are anchored; a leading "/" is optional);
//     once all its segments matched, everything below matches too;
//   - "**" as a whole segment matches zero or more segments ("**/x",
//     "a/**/b"); a trailing "/**" matches everything inside (and, as in
//     go-git, the directory itself); "**" inside a segment never matches;
//   - within a segment "*", "?", "[...]" and "\" work as in path.Match; a
//     malformed pattern matches nothing;
//   - a leading "!" re-includes what an earlier pattern ignored; trailing
//     spaces are dropped unless escaped with "\".
//
// Like Flux, and unlike git, every path is matched on its own: a negated
// pattern can bring back a file inside an ignored directory. The file is
// then in the layer without an entry for that directory, exactly as Flux
// writes it; [Layer.FS] still shows the directory. (Negated patterns do not
// reach into an ignored directory that is, or lies below, a followed
// symlink: Flux does not follow links at all.)
//
// A directory named .git is never packed, whatever the patterns say (not
// even "!.git/"): git keeps credentials there, and actions/checkout writes
// the job's token to .git/config.
//
// # Symlinks
//
// Flux skips symlinks. fleetpush follows a symlink whose target lies inside
// the artifact root, and the target's content appears at the link's path (a
// file as a regular file, a directory as a directory with its tree). Every
// link is resolved by checkout.Resolve, the one resolution every reader of
// the checkout goes through, element by element as the kernel does, and the
// ignore rules apply to what the link resolves to, not only to its name:
//
//   - a link into a .git folder, by any path (relative, absolute, a chain, a
//     link to a parent folder, other letter case) is an error
//     ([ErrSymlinkGit]), as is a link named .git;
//   - a link whose target, or any further link on the way, the ignore rules
//     leave out is an error ([ErrSymlinkIgnored]) naming the link, its
//     target and the rule: a link cannot publish what the rules leave out;
//   - a link that points outside the root ([ErrSymlinkEscapes]), a dangling
//     link, a chain of more than 40 links, and a directory link that leads
//     back to one of its own ancestors ([ErrSymlinkLoop]) are errors naming
//     the link.
//
// A directory reached through a link shows what that directory itself would
// publish: entries the rules leave out at their own path are left out under
// the link's path too. A link the rules leave out by its own name is not
// resolved at all. Sockets, pipes and devices are skipped.
//
// [WithWorkspace] names the checkout: a folder that is, or passes through, a
// symlink leading out of it is refused ([ErrOutsideWorkspace]). Every
// directory and file is then read through an [os.Root] handle opened on the
// checkout and then on the folder, so a link swapped in while the build runs
// can neither lead out of the checkout nor out of the folder: the kernel
// resolves each name below the handle, and a file opened is checked to be
// the one that was resolved.
//
// # Names
//
// Every name Flux packs is packed as it is: spaces anywhere (leading,
// trailing, only spaces), letters beyond ASCII, control characters, glob
// characters. Refused ([ErrName]), naming the file, are only the names a
// Flux artifact cannot carry: a backslash or a "../" in the path (a folder
// ending in ".."), which source-controller's untar refuses for the whole
// artifact, and names that are not UTF-8, which have no PAX form.
//
// # The layout folder
//
// The OCI image layout folder a run writes to ([WithLayoutDir]) is recognised
// by its real path, resolved the kernel's way, however the input spells it
// ("a/../dist" where a is a symlink, "./dist/", a link to it). Inside the folder
// being packed it is left out, and [Layer.LeftOut] says so, only when it is
// fleetpush's: an OCI layout (an "oci-layout" file), an empty folder, or,
// directly in it, the OCI layouts of components. A user's own folder of the
// same name is packed. A folder that is, or lies inside, the layout it is
// written to ([WithLayoutTarget]) is refused ([ErrLayoutInside]): every run
// would pack the one before. Without the option, [DefaultLayoutDir]
// (relative to the working directory) is the layout folder.
//
// # Limits
//
// [Limits] bounds the number of entries, the uncompressed content size, the
// size of one file and the length of a path; each has a default and each,
// when exceeded, is an error ([ErrLimit]) that names the input raising it
// (max-files, max-size, max-file-size). A file is read no further than the
// limits allow, even when it grows during the build.
//
// # The image
//
// [Image] builds what fluxcd/pkg's oci push builds: an OCI manifest whose
// config has the media type [ConfigMediaType] and whose one layer has
// [ContentMediaType], annotated with the source, the revision and the
// creation time (never the wall clock) plus user annotations. Same layer and
// same [Meta] give the same manifest digest.
package artifact
