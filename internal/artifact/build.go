package artifact

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Default limits. They are far above what a Kubernetes component needs and
// low enough that a mistake (a build output, a vendored chart tarball, a
// symlink fan-out) fails fast instead of filling memory.
const (
	// DefaultMaxFiles bounds the entries in a layer, directories included.
	DefaultMaxFiles = 10_000
	// DefaultMaxBytes bounds the uncompressed file content: 100 MiB, the
	// size source-controller's untar refuses to go beyond by default.
	DefaultMaxBytes int64 = 100 << 20
	// DefaultMaxPathLen bounds a path inside the layer, in bytes; it is
	// Linux's PATH_MAX.
	DefaultMaxPathLen = 4096
	// DefaultMaxFileSize bounds one file: 16 MiB, the largest file the
	// validation reads by default, so that the two limits agree.
	DefaultMaxFileSize int64 = 16 << 20
	// DefaultLayoutDir is the OCI layout folder a run writes to when no
	// registry is given (the repository input's default, oci-layout:dist).
	DefaultLayoutDir = "dist"
)

var (
	// ErrLimit is wrapped by every error about a Limits field being exceeded.
	ErrLimit = errors.New("artifact limit exceeded")
	// ErrSymlinkEscapes is wrapped when a symlink resolves outside the root.
	ErrSymlinkEscapes = errors.New("symlink points outside the artifact")
	// ErrSymlinkLoop is wrapped when a directory symlink leads back to one
	// of its own ancestors.
	ErrSymlinkLoop = errors.New("symlink loop")
	// ErrOutsideWorkspace is wrapped when the folder to build, once every
	// symlink is resolved, is not inside the checkout given with
	// WithWorkspace.
	ErrOutsideWorkspace = errors.New("folder outside the checkout")
)

// Limits bounds what Build accepts. A zero field takes its default; a
// negative field means no limit. The error for an exceeded limit names the
// input that raises it (max-files, max-size, max-file-size).
type Limits struct {
	MaxFiles    int   // entries in the layer (directories, files and the root)
	MaxBytes    int64 // sum of the regular files' sizes, uncompressed
	MaxPathLen  int   // bytes in one slash-separated relative path
	MaxFileSize int64 // bytes in one regular file
}

func (l Limits) withDefaults() Limits {
	if l.MaxFiles == 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPathLen == 0 {
		l.MaxPathLen = DefaultMaxPathLen
	}
	if l.MaxFileSize == 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	return l
}

// Option configures Build.
type Option func(*options)

type options struct {
	ignore    []string
	limits    Limits
	workspace string
	layout    *string // nil: DefaultLayoutDir, if it is an OCI layout
	// hook, for tests only, runs before the root is opened ("") and before
	// each file is opened (its real path): where a link swapped in by a
	// concurrent process would be met.
	hook func(real string)
}

// WithIgnore adds ignore patterns (gitignore syntax, one or more per string,
// see the package documentation) after the Flux defaults. Options add up.
func WithIgnore(patterns ...string) Option {
	return func(o *options) { o.ignore = append(o.ignore, patterns...) }
}

// WithLimits replaces the default limits; zero fields keep their default.
func WithLimits(l Limits) Option {
	return func(o *options) { o.limits = l }
}

// WithWorkspace confines the build to the checkout dir: Build refuses a
// folder whose real path (every symlink resolved) lies outside it
// ([ErrOutsideWorkspace]), and reads every file through a handle opened on
// the checkout, so that a link changed while the build runs cannot lead out
// of it either. Without it only the component folder confines the links.
func WithWorkspace(dir string) Option {
	return func(o *options) { o.workspace = dir }
}

// WithLayoutDir names the OCI image layout folder the run writes to (a path
// on disk, relative to the working directory), or "" when the run writes to
// a registry. That folder is never packed: a second run of "publish --path
// ./" would otherwise carry the first run's output. Without this option the
// folder DefaultLayoutDir is left out when it holds an OCI layout (its
// "oci-layout" file), and a user's own "dist" folder of manifests is kept.
func WithLayoutDir(dir string) Option {
	return func(o *options) { o.layout = &dir }
}

// File is one entry of the layer.
type File struct {
	Path string // slash-separated, relative to the root; "." is the root
	Dir  bool
	Mode int64 // permission bits as written in the tar header: 0755 or 0644
	Data []byte
}

// Layer is a built artifact layer.
type Layer struct {
	Files      []File  // every entry in tar order
	Compressed []byte  // the tar+gzip bytes
	Digest     v1.Hash // sha256 of Compressed
	DiffID     v1.Hash // sha256 of the uncompressed tar
	Size       int64   // len(Compressed)
}

// Build walks dir (the component or artifact root on disk) and returns its
// deterministic layer. See the package documentation for the exact format,
// the ignore rules, symlinks and limits.
func Build(dir string, opts ...Option) (*Layer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	files, err := collect(dir, o)
	if err != nil {
		return nil, fmt.Errorf("building artifact from %q: %w", dir, err)
	}
	l, err := encode(files)
	if err != nil {
		return nil, fmt.Errorf("building artifact from %q: %w", dir, err)
	}
	return l, nil
}

// walker holds the state of one walk.
type walker struct {
	root   string   // the root, absolute with every symlink resolved
	dir    *os.Root // the root opened: every read goes through it
	skip   string   // real path of the layout folder to leave out, or ""
	hook   func(real string)
	ignore *matcher
	limits Limits
	files  []File
	bytes  int64
	open   map[string]bool // real paths of the directories being walked
}

func collect(dir string, o options) ([]File, error) {
	root, err := realDir(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("not a directory: give the folder that holds the component")
	}
	if o.hook != nil {
		o.hook("")
	}
	handle, err := openConfined(root, o.workspace)
	if err != nil {
		return nil, err
	}
	defer handle.Close()
	w := &walker{
		root:   root,
		dir:    handle,
		hook:   o.hook,
		skip:   layoutToSkip(root, o.layout),
		ignore: newMatcher(append(append([]string(nil), DefaultIgnore...), o.ignore...)),
		limits: o.limits.withDefaults(),
		open:   map[string]bool{},
	}
	if err := w.add(File{Path: ".", Dir: true, Mode: 0o755}); err != nil {
		return nil, err
	}
	if err := w.walkDir(root, "", false); err != nil {
		return nil, err
	}
	return w.files, nil
}

// realDir is dir made absolute with every symlink resolved.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// openConfined opens the root (a real path) for reading. With a workspace,
// the root must lie inside it and is opened through a handle on the
// workspace: the kernel then resolves every later name below the workspace,
// whatever links appear in the meantime.
func openConfined(root, workspace string) (*os.Root, error) {
	if workspace == "" {
		return os.OpenRoot(root)
	}
	ws, err := realDir(workspace)
	if err != nil {
		return nil, fmt.Errorf("resolving the checkout %q: %w", workspace, err)
	}
	if !within(ws, root) {
		return nil, fmt.Errorf("the folder resolves to %q, outside the checkout %q: an artifact holds only files of the checkout; replace the symlink with the folder itself: %w",
			root, ws, ErrOutsideWorkspace)
	}
	wsRoot, err := os.OpenRoot(ws)
	if err != nil {
		return nil, err
	}
	defer wsRoot.Close()
	rel, err := filepath.Rel(ws, root)
	if err != nil {
		return nil, err
	}
	r, err := wsRoot.OpenRoot(rel)
	if err != nil {
		return nil, fmt.Errorf("opening the folder inside the checkout %q: %w: %w", ws, err, ErrOutsideWorkspace)
	}
	return r, nil
}

// layoutToSkip returns the real path of the layout folder when it lies
// inside root, else "". A layout given by option is left out whatever it
// holds; the default one only when it is an OCI layout.
func layoutToSkip(root string, layout *string) string {
	dir := DefaultLayoutDir
	if layout != nil {
		dir = *layout
	}
	if strings.TrimSpace(dir) == "" {
		return ""
	}
	real, err := realDir(dir)
	if err != nil {
		return "" // not there yet: nothing of it can be packed
	}
	if real == root || !within(root, real) {
		return ""
	}
	if layout == nil {
		if fi, err := os.Stat(filepath.Join(real, "oci-layout")); err != nil || !fi.Mode().IsRegular() {
			return ""
		}
	}
	return real
}

func (w *walker) add(f File) error {
	if w.limits.MaxFiles >= 0 && len(w.files) >= w.limits.MaxFiles {
		return fmt.Errorf("%q: more than %d files and folders: leave out what the cluster does not need with ignore-paths, or raise max-files: %w",
			f.Path, w.limits.MaxFiles, ErrLimit)
	}
	w.files = append(w.files, f)
	return nil
}

// walkDir visits the entries of the directory real (an absolute path with
// no symlinks) that appears in the layer as rel ("" for the root), in the
// byte-wise order of their names, depth first: filepath.Walk's order.
// viaLink is true below a followed symlink.
func (w *walker) walkDir(real, rel string, viaLink bool) error {
	w.open[real] = true
	defer delete(w.open, real)
	entries, err := w.readDir(real)
	if err != nil {
		return fmt.Errorf("reading directory %q: %w", displayPath(rel), err)
	}
	for _, e := range entries {
		childRel := e.Name()
		if rel != "" {
			childRel = rel + "/" + e.Name()
		}
		if err := w.visit(filepath.Join(real, e.Name()), childRel, e.Type(), viaLink); err != nil {
			return err
		}
	}
	return nil
}

// readDir lists a directory through the root handle, sorted by name.
func (w *walker) readDir(real string) ([]fs.DirEntry, error) {
	f, err := w.dir.Open(w.handlePath(real))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// handlePath is the name of real (a path inside the root) for the root
// handle.
func (w *walker) handlePath(real string) string {
	r, err := filepath.Rel(w.root, real)
	if err != nil {
		return real // the handle refuses it
	}
	return r
}

func (w *walker) visit(p, rel string, typ fs.FileMode, viaLink bool) error {
	if w.limits.MaxPathLen >= 0 && len(rel) > w.limits.MaxPathLen {
		return fmt.Errorf("%q: path longer than %d bytes: shorten it or leave it out with ignore-paths: %w",
			truncate(rel, 80), w.limits.MaxPathLen, ErrLimit)
	}
	target := p
	if typ&fs.ModeSymlink != 0 {
		if w.ignore.ignored(rel, false) && w.ignore.ignored(rel, true) && w.ignore.prunable {
			return nil // left out whatever it points to: no need to resolve it
		}
		t, err := w.resolve(p, rel)
		if err != nil {
			return err
		}
		target = t
		viaLink = true
	} else if !typ.IsDir() && !typ.IsRegular() {
		return nil // sockets, pipes, devices: never in a Flux artifact
	}
	// Not a link: do not follow one that appeared since the listing. A
	// followed link was resolved to target, which holds no link either; the
	// handle follows links only inside the root if one appears there now.
	fi, err := w.dir.Lstat(w.handlePath(target))
	if err != nil {
		return fmt.Errorf("reading %q: %w", rel, err)
	}
	switch {
	case fi.IsDir():
		if w.skip != "" && target == w.skip {
			return nil // the run's own OCI layout output
		}
		ignored := w.ignore.ignored(rel, true)
		if !ignored {
			if err := w.add(File{Path: rel, Dir: true, Mode: 0o755}); err != nil {
				return err
			}
		}
		// Below an ignored directory only a negated pattern can bring
		// something back, so the walk goes on only if there is one, and
		// never through a symlink: ignored entries are not counted against
		// Limits.MaxFiles, and links could multiply them without end.
		if ignored && (w.ignore.prunable || viaLink) {
			return nil
		}
		if w.open[target] {
			return fmt.Errorf("symlink %q leads back to its ancestor %q: remove the link: %w",
				rel, displayPath(w.relOf(target)), ErrSymlinkLoop)
		}
		return w.walkDir(target, rel, viaLink)
	case fi.Mode().IsRegular():
		if w.ignore.ignored(rel, false) {
			return nil
		}
		return w.addFile(target, rel, fi)
	default:
		return nil
	}
}

// resolve returns the real path behind the symlink p, which must lie inside
// the root.
func (w *walker) resolve(p, rel string) (string, error) {
	t, err := filepath.EvalSymlinks(p)
	if err != nil {
		if strings.Contains(err.Error(), "too many links") {
			return "", fmt.Errorf("resolving symlink %q: links that never end: %w", rel, ErrSymlinkLoop)
		}
		return "", fmt.Errorf("resolving symlink %q: fix or remove the link: %w", rel, err)
	}
	if !within(w.root, t) {
		return "", fmt.Errorf("symlink %q resolves outside the artifact root: copy the target into the component or remove the link: %w",
			rel, ErrSymlinkEscapes)
	}
	return t, nil
}

func (w *walker) addFile(real, rel string, fi fs.FileInfo) error {
	if err := w.checkSize(rel, fi.Size()); err != nil {
		return err
	}
	if w.hook != nil {
		w.hook(real)
	}
	// Non-blocking: a file that became a pipe since Lstat must not hang the
	// open; the handle keeps the open inside the root.
	f, err := w.dir.OpenFile(w.handlePath(real), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("reading %q: %w", rel, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("reading %q: it changed while the artifact was built: run again", rel)
	}
	// Read at most one byte past what the limits allow: the file may have
	// grown since Lstat, and memory stays bounded whatever it holds now.
	allowed := w.limits.MaxFileSize
	if left := w.limits.MaxBytes - w.bytes; w.limits.MaxBytes >= 0 && (allowed < 0 || left < allowed) {
		allowed = left
	}
	r := io.Reader(f)
	if allowed >= 0 {
		r = io.LimitReader(f, allowed+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading %q: %w", rel, err)
	}
	if err := w.checkSize(rel, int64(len(data))); err != nil {
		return err
	}
	w.bytes += int64(len(data))
	mode := int64(0o644)
	if fi.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	return w.add(File{Path: rel, Mode: mode, Data: data})
}

// checkSize reports whether one more file of n bytes fits the limits.
func (w *walker) checkSize(rel string, n int64) error {
	if w.limits.MaxFileSize >= 0 && n > w.limits.MaxFileSize {
		return fmt.Errorf("%q: %d bytes, more than max-file-size (%d bytes): leave it out with ignore-paths, or raise max-file-size: %w",
			rel, n, w.limits.MaxFileSize, ErrLimit)
	}
	if w.limits.MaxBytes >= 0 && w.bytes+n > w.limits.MaxBytes {
		return fmt.Errorf("%q: the files add up to more than %d bytes (max-size): leave large files out with ignore-paths, or raise max-size: %w",
			rel, w.limits.MaxBytes, ErrLimit)
	}
	return nil
}

func (w *walker) relOf(real string) string {
	r, err := filepath.Rel(w.root, real)
	if err != nil {
		return real
	}
	return filepath.ToSlash(r)
}

// within reports whether p is root or below it; both are absolute, clean
// and free of symlinks.
func within(root, p string) bool {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	return r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r)
}

func displayPath(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
