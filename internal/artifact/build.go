package artifact

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
)

var (
	// ErrLimit is wrapped by every error about a Limits field being exceeded.
	ErrLimit = errors.New("artifact limit exceeded")
	// ErrSymlinkEscapes is wrapped when a symlink resolves outside the root.
	ErrSymlinkEscapes = errors.New("symlink points outside the artifact")
	// ErrSymlinkLoop is wrapped when a directory symlink leads back to one
	// of its own ancestors.
	ErrSymlinkLoop = errors.New("symlink loop")
)

// Limits bounds what Build accepts. A zero field takes its default; a
// negative field means no limit.
type Limits struct {
	MaxFiles   int   // entries in the layer (directories, files and the root)
	MaxBytes   int64 // sum of the regular files' sizes, uncompressed
	MaxPathLen int   // bytes in one slash-separated relative path
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
	return l
}

// Option configures Build.
type Option func(*options)

type options struct {
	ignore []string
	limits Limits
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
	root   string // the root, absolute with every symlink resolved
	ignore *matcher
	limits Limits
	files  []File
	bytes  int64
	open   map[string]bool // real paths of the directories being walked
}

func collect(dir string, o options) ([]File, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root, err := filepath.EvalSymlinks(abs)
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
	w := &walker{
		root:   root,
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

func (w *walker) add(f File) error {
	if w.limits.MaxFiles >= 0 && len(w.files) >= w.limits.MaxFiles {
		return fmt.Errorf("%q: more than %d entries (Limits.MaxFiles): ignore what the cluster does not need or raise the limit with WithLimits: %w",
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
	entries, err := os.ReadDir(real) // sorted by name
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

func (w *walker) visit(p, rel string, typ fs.FileMode, viaLink bool) error {
	if w.limits.MaxPathLen >= 0 && len(rel) > w.limits.MaxPathLen {
		return fmt.Errorf("%q: path longer than %d bytes (Limits.MaxPathLen): shorten it, ignore it or raise the limit with WithLimits: %w",
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
	stat := os.Lstat // not a link: do not follow one that appeared since ReadDir
	if target != p {
		stat = os.Stat
	}
	fi, err := stat(target)
	if err != nil {
		return fmt.Errorf("reading %q: %w", rel, err)
	}
	switch {
	case fi.IsDir():
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
	if err := w.checkBytes(rel, fi.Size()); err != nil {
		return err
	}
	data, err := os.ReadFile(real)
	if err != nil {
		return fmt.Errorf("reading %q: %w", rel, err)
	}
	// The file may have changed since Stat: count what was read.
	if err := w.checkBytes(rel, int64(len(data))-fi.Size()); err != nil {
		return err
	}
	mode := int64(0o644)
	if fi.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	return w.add(File{Path: rel, Mode: mode, Data: data})
}

func (w *walker) checkBytes(rel string, n int64) error {
	w.bytes += n
	if w.limits.MaxBytes >= 0 && w.bytes > w.limits.MaxBytes {
		return fmt.Errorf("%q: content above %d bytes in total (Limits.MaxBytes): ignore large files or raise the limit with WithLimits: %w",
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
