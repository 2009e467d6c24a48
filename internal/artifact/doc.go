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
// # Symlinks
//
// Flux skips symlinks. fleetpush follows a symlink whose target, after
// resolving every link on the way, lies inside the artifact root: the
// target's content appears at the link's path (a file as a regular file, a
// directory as a directory with its whole tree). A link that points outside
// the root is an error ([ErrSymlinkEscapes]) naming the link, as is a
// dangling link, a chain of links that does not end, and a directory link
// that leads back to one of its own ancestors ([ErrSymlinkLoop]). Links that
// the ignore patterns exclude are not resolved. Sockets, pipes and devices
// are skipped.
//
// [WithWorkspace] names the checkout: a folder that is, or passes through, a
// symlink leading out of it is refused ([ErrOutsideWorkspace]). Every
// directory and file is then read through an [os.Root] handle opened on the
// checkout and then on the folder, so a link swapped in while the build runs
// can neither lead out of the checkout nor out of the folder: the kernel
// resolves each name below the handle.
//
// # The layout folder
//
// The OCI image layout folder a run writes to ([WithLayoutDir]) is never
// packed when it lies inside the folder: "publish --path ./" run twice would
// otherwise carry the first run's output in the second artifact. Without the
// option, [DefaultLayoutDir] (relative to the working directory) is left out
// when it holds an OCI layout.
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
