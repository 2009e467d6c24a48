// Package inputfile is the one reader of the files an input or the environment names: the
// cosign key, the trust material of a private Sigstore (fulcio-root, rekor-public-key,
// ct-log-public-key, trusted-root), the GitHub event payload (GITHUB_EVENT_PATH) and the docker
// config. Whoever sets an input can name any path, and a path can name what never ends (a
// device such as /dev/zero, or a symlink to one), what blocks forever (a FIFO nobody writes),
// or something far larger than the file it should be. So every such file is opened without
// blocking, checked on the opened descriptor (not the path, which could be swapped in between)
// to be a regular file, and read up to the cap of its Kind; past the cap the read stops with an
// error that names the input, the cap and what to do.
//
// The Kinds in kinds.go list the files of this sort a run reads, with the cap of each and why it
// is enough (the README's Limits table lists them too); a caller whose cap is an input (a schema
// file, capped by max-file-size) makes its own Kind.
package inputfile
