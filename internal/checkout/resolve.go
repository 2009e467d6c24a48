package checkout

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxLinks bounds the symlinks followed while resolving one path, as Linux
// does (ELOOP after 40).
const MaxLinks = 40

var (
	// ErrGit is wrapped when a path or a link leads into a .git folder.
	ErrGit = errors.New("inside a .git folder")
	// ErrOutside is wrapped when a link leads outside the root.
	ErrOutside = errors.New("outside the root")
	// ErrLoop is wrapped when a path holds more than MaxLinks links.
	ErrLoop = errors.New("symlink loop")
	// ErrIgnored is wrapped when a link leads to, or through, a path that
	// the caller's rules leave out.
	ErrIgnored = errors.New("link to an ignored path")
)

// Link is one symlink followed.
type Link struct {
	Path   string // where the link is: slash path relative to the root
	Target string // what it says, as written
}

// Resolved is a path with every link on the way resolved.
type Resolved struct {
	Path  string // slash path relative to the root, with no link in it; "." is the root
	Dir   bool   // Path is a folder
	Links []Link // the links followed, in order
}

// Options tune Resolve.
type Options struct {
	// Root is the real absolute path (every link resolved) of the file
	// system's root on disk. An absolute link target inside it is followed;
	// without it every absolute target is outside.
	Root string
	// Name names the root in errors: "the checkout" (the default), "the
	// artifact".
	Name string
	// Ignored, when set, is asked about every link followed after the first
	// one (the caller decides about the path it asked for) and about the
	// final path; it returns the rule that leaves p out, described for a
	// user (`"*.png" (a Flux default)`), or "" when p is kept. dir tells
	// whether p is a folder.
	Ignored func(p string, dir bool) (rule string)
}

// IsGitName reports whether a file or folder name is git's own folder. The
// comparison ignores case: on a case-insensitive file system (macOS,
// Windows) ".GIT" opens the same folder, and git refuses such names too.
func IsGitName(name string) bool { return strings.EqualFold(name, ".git") }

// InGit reports whether the path p on disk (in the OS's form) passes through a folder named .git,
// as IsGitName compares names.
func InGit(p string) bool {
	for _, e := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == filepath.Separator }) {
		if IsGitName(e) {
			return true
		}
	}
	return false
}

// Refused reports whether err is one of Resolve's refusals (a .git folder,
// outside the root, a loop, an ignored target), as opposed to a missing
// file.
func Refused(err error) bool {
	return errors.Is(err, ErrGit) || errors.Is(err, ErrOutside) || errors.Is(err, ErrLoop) || errors.Is(err, ErrIgnored)
}

// Resolve returns p (a slash path relative to the root of fsys, which must
// implement fs.ReadLinkFS) with every link on the way resolved, or the
// reason it may not be read. A missing element is the fs error, wrapped in
// a *LinkError when a link led there (a dangling link).
func Resolve(fsys fs.FS, p string, o Options) (Resolved, error) {
	if o.Name == "" {
		o.Name = "the checkout"
	}
	r := &resolver{fsys: fsys, p: p, o: o}
	return r.run()
}

type resolver struct {
	fsys  fs.FS
	p     string
	o     Options
	links []Link
	dirs  []bool // for each link: it was followed as a folder (more path after it)
}

func (r *resolver) fail(err error, target, rule string) error {
	return &LinkError{Path: r.p, Links: r.links, Target: target, Rule: rule, Root: r.o.Name, Err: err}
}

func (r *resolver) run() (Resolved, error) {
	var done []string
	todo := strings.Split(r.p, "/")
	isDir := true // done names a folder; the root is one
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		if elem == "" || elem == "." {
			continue
		}
		if !isDir {
			return Resolved{}, r.fail(&fs.PathError{Op: "lstat", Path: path.Join(done...), Err: syscall.ENOTDIR}, "", "")
		}
		if elem == ".." {
			if len(done) == 0 {
				return Resolved{}, r.fail(ErrOutside, "", "")
			}
			done = done[:len(done)-1]
			continue
		}
		if IsGitName(elem) {
			return Resolved{}, r.fail(ErrGit, join(append(append(done[:len(done):len(done)], elem), todo...)), "")
		}
		cur := path.Join(append(done, elem)...)
		fi, err := fs.Lstat(r.fsys, cur)
		if err != nil {
			if len(r.links) == 0 {
				return Resolved{}, err
			}
			return Resolved{}, r.fail(err, cur, "")
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, elem)
			isDir = fi.IsDir()
			continue
		}
		if len(r.links) >= MaxLinks {
			return Resolved{}, r.fail(ErrLoop, "", "")
		}
		target, err := fs.ReadLink(r.fsys, cur)
		if err != nil {
			return Resolved{}, r.fail(err, cur, "")
		}
		r.links = append(r.links, Link{Path: cur, Target: target})
		r.dirs = append(r.dirs, nonEmpty(todo))
		if path.IsAbs(target) {
			rel, ok := under(r.o.Root, target)
			if !ok {
				return Resolved{}, r.fail(ErrOutside, target, "")
			}
			done, isDir = nil, true
			target = rel
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	res := Resolved{Path: join(done), Dir: isDir, Links: r.links}
	if r.o.Ignored != nil && len(r.links) > 0 {
		for i, l := range r.links[1:] {
			dir := r.dirs[i+1] || res.Dir
			if rule := r.o.Ignored(l.Path, dir); rule != "" {
				return res, r.fail(ErrIgnored, l.Path, rule)
			}
		}
		if res.Path != "." {
			if rule := r.o.Ignored(res.Path, res.Dir); rule != "" {
				return res, r.fail(ErrIgnored, res.Path, rule)
			}
		}
	}
	return res, nil
}

// under returns abs (a clean absolute slash path) relative to root, if it
// lies inside it. Either may hold "..": the target is cleaned as the kernel
// would read it only once it is known to start inside root, so a target
// that climbs out is refused.
func under(root, abs string) (string, bool) {
	if root == "" {
		return "", false
	}
	root = strings.TrimSuffix(root, "/")
	if abs == root {
		return ".", true
	}
	rest, ok := strings.CutPrefix(abs, root+"/")
	if !ok {
		return "", false
	}
	// The rest is resolved element by element like any relative path, so
	// a ".." in it climbs from inside the root and is caught there.
	return rest, true
}

func nonEmpty(elems []string) bool {
	for _, e := range elems {
		if e != "" && e != "." {
			return true
		}
	}
	return false
}

func join(elems []string) string {
	var out []string
	for _, e := range elems {
		if e != "" && e != "." {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return "."
	}
	return strings.Join(out, "/")
}

// LinkError is the error about a path that Resolve refuses or cannot
// resolve.
type LinkError struct {
	Path   string // the path asked for
	Links  []Link // the links followed, the last one where it failed
	Target string // the path reached (relative to the root), or the absolute target
	Rule   string // for ErrIgnored: the rule, as Options.Ignored described it
	Root   string // what the root is: "the checkout", "the artifact"
	Err    error  // ErrGit, ErrOutside, ErrLoop, ErrIgnored, or an fs error
}

func (e *LinkError) Unwrap() error { return e.Err }

func (e *LinkError) Error() string {
	var b strings.Builder
	if len(e.Links) == 0 {
		fmt.Fprintf(&b, "%q", e.Path)
	} else {
		for i, l := range e.Links {
			if i > 0 {
				b.WriteString(", and ")
			}
			if path.IsAbs(l.Target) {
				fmt.Fprintf(&b, "symlink %q points to the absolute path %q", l.Path, l.Target)
			} else {
				fmt.Fprintf(&b, "symlink %q points to %q", l.Path, l.Target)
			}
		}
	}
	switch {
	case errors.Is(e.Err, ErrGit):
		fmt.Fprintf(&b, ", inside a .git folder (%q), which is never read: git keeps credentials there (actions/checkout writes the job's token to .git/config)", e.Target)
		if len(e.Links) > 0 {
			b.WriteString("; remove the link")
		} else {
			b.WriteString("; give a folder outside .git")
		}
	case errors.Is(e.Err, ErrOutside):
		if len(e.Links) == 0 {
			fmt.Fprintf(&b, " climbs above %s", e.Root)
		} else {
			fmt.Fprintf(&b, ", outside %s", e.Root)
		}
	case errors.Is(e.Err, ErrLoop):
		fmt.Fprintf(&b, ": more than %d symlinks on the way, a loop: remove the link", MaxLinks)
	case errors.Is(e.Err, ErrIgnored):
		fmt.Fprintf(&b, ", and %q is left out of %s by the ignore rule %s: a link cannot publish what the ignore rules leave out; remove the link, or copy the file in under a name the rules keep (or re-include %q with a \"!\" pattern in ignore-paths if it belongs in the artifact)",
			e.Target, e.Root, e.Rule, e.Target)
	case errors.Is(e.Err, fs.ErrNotExist):
		fmt.Fprintf(&b, ", which does not exist: fix or remove the link")
	default:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}
