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
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/checkout"
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
	ErrSymlinkEscapes = checkout.ErrOutside
	// ErrSymlinkLoop is wrapped when a directory symlink leads back to one
	// of its own ancestors.
	ErrSymlinkLoop = checkout.ErrLoop
	// ErrSymlinkGit is wrapped when a symlink leads into a .git folder.
	ErrSymlinkGit = checkout.ErrGit
	// ErrSymlinkIgnored is wrapped when a symlink leads to, or through, a
	// path the ignore rules leave out.
	ErrSymlinkIgnored = checkout.ErrIgnored
	// ErrOutsideWorkspace is wrapped when the folder to build, once every
	// symlink is resolved, is not inside the checkout given with
	// WithWorkspace.
	ErrOutsideWorkspace = errors.New("folder outside the checkout")
	// ErrLayoutInside is wrapped when the folder to build is, or lies
	// inside, the OCI layout the run writes it to.
	ErrLayoutInside = errors.New("folder inside the OCI layout output")
	// ErrName is wrapped when a name cannot be carried by a Flux artifact.
	ErrName = errors.New("name a Flux artifact cannot carry")
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
	layout    *string // nil: DefaultLayoutDir
	target    string  // the layout this artifact is written to; "" means layout itself
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

// WithLayoutDir names the folder the run writes OCI image layouts to (the
// DIR of "oci-layout:DIR", relative to the working directory), or "" when
// the run writes to a registry. Inside the artifact, that folder and each
// folder directly in it are left out when they are an OCI layout (they hold
// an "oci-layout" file), and the folder itself also when it is empty:
// fleetpush's own output, which a second run of "publish --path ./" would
// otherwise pack. Every other folder, a user's own "dist" included, is
// packed. Layer.LeftOut lists what was left out, for the log. Without this
// option the folder is DefaultLayoutDir.
func WithLayoutDir(dir string) Option {
	return func(o *options) { o.layout = &dir }
}

// WithLayoutTarget names the OCI layout this artifact is written to: the
// layout folder itself for a single artifact, DIR/<component> for a
// component. Build refuses to pack a folder that is, or lies inside, that
// layout ([ErrLayoutInside]). Without this option it is WithLayoutDir's.
func WithLayoutTarget(dir string) Option {
	return func(o *options) { o.target = dir }
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
	// LeftOut lists the folders (paths in the layer) left out because they
	// are the run's own OCI layout output: a run says so in its log.
	LeftOut []string
}

// Build walks dir (the component or artifact root on disk) and returns its
// deterministic layer. See the package documentation for the exact format,
// the ignore rules, symlinks and limits.
func Build(dir string, opts ...Option) (*Layer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	w, err := collect(dir, o)
	if err != nil {
		return nil, fmt.Errorf("building artifact from %q: %w", dir, err)
	}
	l, err := encode(w.files)
	if err != nil {
		return nil, fmt.Errorf("building artifact from %q: %w", dir, err)
	}
	l.LeftOut = w.layoutOut
	return l, nil
}

// walker holds the state of one walk. Paths called real are relative to
// the root, in the OS's form, with no symlink in them ("." is the root);
// paths called rel are where an entry appears in the layer.
type walker struct {
	root      string   // the root, absolute with every symlink resolved
	dir       *os.Root // the root opened: every read goes through it
	fsys      fs.FS    // dir as an fs.FS, for checkout.Resolve
	skip      map[string]bool
	layoutOut []string
	hook      func(real string)
	ignore    *matcher
	limits    Limits
	files     []File
	bytes     int64
	open      map[string]bool // real paths of the directories being walked
}

func collect(dir string, o options) (*walker, error) {
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
	skip, err := layoutToSkip(root, o)
	if err != nil {
		return nil, err
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
		fsys:   handle.FS(),
		hook:   o.hook,
		skip:   skip,
		ignore: newBuildMatcher(o.ignore),
		limits: o.limits.withDefaults(),
		open:   map[string]bool{},
	}
	if err := w.add(File{Path: ".", Dir: true, Mode: 0o755}); err != nil {
		return nil, err
	}
	if err := w.walkDir(".", "", false); err != nil {
		return nil, err
	}
	return w, nil
}

// realDir is dir made absolute with every symlink resolved.
func realDir(dir string) (string, error) {
	return checkout.RealPath(dir)
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

// layoutToSkip returns the folders (real, relative to root) that are the
// run's OCI layout output: the layout folder and each folder directly in it,
// when they lie strictly inside root and hold an "oci-layout" file, and the
// layout folder also when it is empty. It refuses a root that is, or lies
// inside, the layout this artifact is written to. The layout folder is
// resolved the kernel's way, so "a/../dist", "./dist" and a link to it are
// the same folder.
func layoutToSkip(root string, o options) (map[string]bool, error) {
	dir := DefaultLayoutDir
	if o.layout != nil {
		dir = *o.layout
	}
	if strings.TrimSpace(dir) == "" {
		return nil, nil
	}
	real, err := checkout.RealPath(dir)
	if err != nil {
		if o.layout == nil {
			return nil, nil // the default folder, not ours to judge
		}
		return nil, fmt.Errorf("resolving the layout folder oci-layout:%s: %w: fix the repository input", dir, err)
	}
	target := real
	if o.target != "" {
		if target, err = checkout.RealPath(o.target); err != nil {
			return nil, fmt.Errorf("resolving the layout folder oci-layout:%s: %w: fix the repository input", o.target, err)
		}
	}
	if o.layout != nil && checkout.Within(target, root) {
		return nil, fmt.Errorf("repository oci-layout:%s writes the OCI layout into %q, the folder being packed, so every run would pack the one before: give a layout folder outside it (for example oci-layout:../out): %w",
			displayLayout(o), target, ErrLayoutInside)
	}
	skip := map[string]bool{}
	add := func(p string) {
		if p != root && checkout.Within(root, p) {
			if rel, err := filepath.Rel(root, p); err == nil {
				skip[rel] = true
			}
		}
	}
	if !checkout.Within(root, real) {
		return skip, nil // neither it nor a folder in it lies inside the root
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return skip, nil // not there yet: nothing of it can be packed
	}
	if len(entries) == 0 || isLayout(real) {
		add(real)
	}
	for _, e := range entries {
		if e.IsDir() && isLayout(filepath.Join(real, e.Name())) {
			add(filepath.Join(real, e.Name()))
		}
	}
	return skip, nil
}

func displayLayout(o options) string {
	if o.target != "" {
		return o.target
	}
	return *o.layout
}

// isLayout reports whether dir is an OCI image layout: it holds the
// "oci-layout" file the image-spec requires.
func isLayout(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, "oci-layout"))
	return err == nil && fi.Mode().IsRegular()
}

func (w *walker) add(f File) error {
	if err := representable(f.Path); err != nil {
		return err
	}
	if w.limits.MaxFiles >= 0 && len(w.files) >= w.limits.MaxFiles {
		return fmt.Errorf("%q: more than %d files and folders: leave out what the cluster does not need with ignore-paths, or raise max-files: %w",
			f.Path, w.limits.MaxFiles, ErrLimit)
	}
	w.files = append(w.files, f)
	return nil
}

// representable refuses the only names a Flux artifact cannot carry. Every
// other name a file system allows (spaces anywhere, letters beyond ASCII,
// control characters, glob characters) is packed as it is, as Flux packs it.
func representable(rel string) error {
	switch {
	case !utf8.ValidString(rel):
		return fmt.Errorf("%q: the name is not valid UTF-8, which a tar entry name (PAX) and the validation need: rename it, or leave it out with ignore-paths: %w",
			strings.ToValidUTF8(rel, "\uFFFD"), ErrName)
	case strings.Contains(rel, `\`):
		return fmt.Errorf("%q: the name holds a backslash, and Flux's source-controller refuses to unpack an artifact with one (the whole artifact would fail in the cluster): rename it, or leave it out with ignore-paths: %w",
			rel, ErrName)
	case strings.Contains(rel, "../"):
		return fmt.Errorf("%q: a folder name ending in \"..\" puts \"../\" in the path, and Flux's source-controller refuses to unpack an artifact with one: rename the folder, or leave it out with ignore-paths: %w",
			rel, ErrName)
	}
	return nil
}

// walkDir visits the entries of the directory real that appears in the
// layer as rel ("" for the root), in the byte-wise order of their names,
// depth first: filepath.Walk's order. viaLink is true below a followed
// symlink.
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
	f, err := w.dir.Open(real)
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

// leftOut reports whether the ignore rules leave out the entry that appears
// as rel and lies at real: its path in the layer is ignored, or, below a
// followed link, its own path in the folder is (a linked folder shows what
// its target would publish, nothing more).
func (w *walker) leftOut(rel, real string, viaLink, dir bool) bool {
	return w.ignore.ignored(rel, dir) || viaLink && w.ignore.ignored(filepath.ToSlash(real), dir)
}

// visit adds the entry at real (no symlink before its last element) that
// appears in the layer as rel. A symlink is resolved by checkout.Resolve,
// the one resolution every reader of the checkout goes through: it refuses
// a link into a .git folder, out of the root, or to a path the ignore rules
// leave out.
func (w *walker) visit(real, rel string, typ fs.FileMode, viaLink bool) error {
	if w.limits.MaxPathLen >= 0 && len(rel) > w.limits.MaxPathLen {
		return fmt.Errorf("%q: path longer than %d bytes: shorten it or leave it out with ignore-paths: %w",
			truncate(rel, 80), w.limits.MaxPathLen, ErrLimit)
	}
	target := real
	below := viaLink // the entry itself lies below a followed link
	if typ&fs.ModeSymlink != 0 {
		if w.leftOut(rel, real, below, false) && w.leftOut(rel, real, below, true) {
			return nil // left out whatever it points to: no need to resolve it
		}
		if err := representable(rel); err != nil {
			return err // before the link is read: the name alone is refused
		}
		if name := filepath.Base(real); checkout.IsGitName(name) {
			return fmt.Errorf("symlink %q is named %q, git's own folder, where git keeps credentials (actions/checkout writes the job's token to .git/config): a link by that name is never followed; rename or remove the link: %w",
				rel, name, ErrSymlinkGit)
		}
		r, err := checkout.Resolve(w.fsys, filepath.ToSlash(real), checkout.Options{
			Root: w.root,
			Name: "the artifact",
			Ignored: func(p string, dir bool) string {
				if w.leftOut(rel, real, below, dir) {
					return "" // the link itself is left out, whatever it leads to
				}
				return w.ignore.rule(p, dir)
			},
		})
		if err != nil {
			return linkError(rel, err)
		}
		target = filepath.FromSlash(r.Path)
		viaLink = true
	} else if !typ.IsDir() && !typ.IsRegular() {
		return nil // sockets, pipes, devices: never in a Flux artifact
	}
	// Not a link: do not follow one that appeared since the listing. A
	// followed link was resolved to target, which holds no link either; the
	// handle follows links only inside the root if one appears there now.
	fi, err := w.dir.Lstat(target)
	if err != nil {
		return fmt.Errorf("reading %q: %w", rel, err)
	}
	switch {
	case fi.IsDir():
		if w.skip[target] {
			w.layoutOut = append(w.layoutOut, rel)
			return nil // the run's own OCI layout output
		}
		if typ&fs.ModeSymlink == 0 && fi.Name() == ".git" {
			// git's own folder: never packed, whatever the patterns say,
			// since git keeps credentials in it.
			return nil
		}
		ignored := w.leftOut(rel, real, below, true)
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
				rel, displayPath(filepath.ToSlash(target)), ErrSymlinkLoop)
		}
		return w.walkDir(target, rel, viaLink)
	case fi.Mode().IsRegular():
		if w.leftOut(rel, real, below, false) {
			return nil
		}
		return w.addFile(target, rel, fi)
	default:
		return nil
	}
}

// linkError adds to a refusal of checkout.Resolve what to do about it.
func linkError(rel string, err error) error {
	switch {
	case errors.Is(err, checkout.ErrOutside):
		return fmt.Errorf("%w: copy the target into the component, or remove the link", err)
	case errors.Is(err, checkout.ErrGit), errors.Is(err, checkout.ErrIgnored), errors.Is(err, checkout.ErrLoop):
		return err
	}
	return fmt.Errorf("resolving symlink %q: %w", rel, err)
}

func (w *walker) addFile(real, rel string, fi fs.FileInfo) error {
	if err := w.checkSize(rel, fi.Size()); err != nil {
		return err
	}
	if w.hook != nil {
		w.hook(filepath.Join(w.root, real))
	}
	// Non-blocking: a file that became a pipe since Lstat must not hang the
	// open; the handle keeps the open inside the root.
	f, err := w.dir.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("reading %q: %w", rel, err)
	}
	defer f.Close()
	// The file opened must be the one checked: a link swapped in since
	// (even one that stays inside the root) could lead to a file the rules
	// leave out.
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() || !os.SameFile(st, fi) {
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
