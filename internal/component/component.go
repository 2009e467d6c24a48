package component

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/fleetpush/fleetpush/internal/checkout"
)

// Component is one artifact to publish.
type Component struct {
	Name string // DNS-1123 label; "" in single-artifact mode (the artifact is the repository itself)
	Dir  string // slash path relative to the source root; "." for the whole checkout
}

var (
	// ErrOutside is wrapped by the error about a folder that a symlink leads out of the checkout.
	ErrOutside = checkout.ErrOutside
	// ErrGit is wrapped by the error about a folder that is, or that a symlink leads, inside a
	// .git folder.
	ErrGit = checkout.ErrGit
)

// fixOutside says what to do about a folder a symlink leads out of the checkout.
const fixOutside = "an artifact holds only files of the checkout: replace the link with the folder itself, or remove it"

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidName reports why name cannot be a component name, or nil.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("empty component name")
	case len(name) > 63:
		return fmt.Errorf("component name %q is longer than 63 characters", name)
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return fmt.Errorf("component name %q is a path: give the folder name under the components folder only", name)
	case !dns1123.MatchString(name):
		return fmt.Errorf("component name %q is not a DNS-1123 label: use lower-case letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// kustomizationFiles are the file names kustomize accepts, in its order of preference.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// IsKustomization reports whether base is a kustomization file name.
func IsKustomization(base string) bool {
	for _, k := range kustomizationFiles {
		if base == k {
			return true
		}
	}
	return false
}

// Discover lists the components under dir (slash path relative to fsys root), sorted by name. A
// sub-folder without any kustomization below it is not a component (docs, scripts). Folders whose
// names are not valid component names but that hold kustomizations are reported as errors, since
// silently skipping them would leave a component unpublished.
func Discover(fsys fs.FS, dir string) ([]Component, error) {
	dir = clean(dir)
	real, err := realPath(fsys, dir)
	if r := refusal(err); r != nil {
		return nil, fmt.Errorf("components-dir %q: %w", dir, r)
	}
	if err == nil {
		var entries []fs.DirEntry
		entries, err = fs.ReadDir(fsys, real)
		if err == nil {
			return discover(fsys, dir, real, entries)
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("components-dir %q does not exist in the checkout: set components-dir to the folder holding your components, or path for a single artifact", dir)
		}
		return nil, fmt.Errorf("reading components-dir %q: %w", dir, err)
	}
	return nil, nil // not reached: err is nil only on success
}

// discover lists the components among entries, the listing of components-dir (dir as given,
// real with its links resolved).
func discover(fsys fs.FS, dir, real string, entries []fs.DirEntry) ([]Component, error) {
	var out []Component
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := path.Join(dir, e.Name())
		folder, ok, err := realFolder(fsys, path.Join(real, e.Name()), e)
		if err != nil {
			errs = append(errs, fmt.Errorf("folder %q: %w", p, err))
			continue
		}
		if !ok {
			continue
		}
		has, err := hasKustomization(fsys, folder)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !has {
			continue
		}
		if err := ValidName(e.Name()); err != nil {
			errs = append(errs, fmt.Errorf("folder %q: %w (rename the folder)", p, err))
			continue
		}
		out = append(out, Component{Name: e.Name(), Dir: p})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("components-dir %q holds no component (a sub-folder with a kustomization.yaml): check components-dir, or use path for a single artifact", dir)
	}
	return out, nil
}

// Select resolves an explicit list of names against the components folder. Every bad name is
// reported, each naming the input.
func Select(fsys fs.FS, dir string, names []string) ([]Component, error) {
	dir = clean(dir)
	var out []Component
	var errs []error
	seen := map[string]bool{}
	for _, n := range names {
		if err := ValidName(n); err != nil {
			errs = append(errs, fmt.Errorf("components: %w", err))
			continue
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		p := path.Join(dir, n)
		real, err := realPath(fsys, p)
		if r := refusal(err); r != nil {
			errs = append(errs, fmt.Errorf("components: %q: folder %q: %w", n, p, r))
			continue
		}
		fi, err := fs.Stat(fsys, real)
		if err != nil || !fi.IsDir() {
			errs = append(errs, fmt.Errorf("components: %q has no folder %q in the checkout: check the name or components-dir", n, p))
			continue
		}
		out = append(out, Component{Name: n, Dir: p})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Single checks the folder of single-artifact mode. p is relative to the checkout and must stay
// inside it.
func Single(fsys fs.FS, p string) (Component, error) {
	c, err := cleanRel(p)
	if err != nil {
		return Component{}, fmt.Errorf("path: %w", err)
	}
	real, err := realPath(fsys, c)
	if r := refusal(err); r != nil {
		return Component{}, fmt.Errorf("path: %q: %w", p, r)
	}
	fi, err := fs.Stat(fsys, real)
	if err != nil || !fi.IsDir() {
		return Component{}, fmt.Errorf("path: folder %q does not exist in the checkout", p)
	}
	return Component{Dir: c}, nil
}

// CleanRel checks that p is a relative path that stays inside the checkout and returns it in
// slash form with "." for the root.
func cleanRel(p string) (string, error) {
	s := strings.ReplaceAll(strings.TrimSpace(p), `\`, "/")
	if s == "" {
		return "", errors.New("empty path")
	}
	if path.IsAbs(s) {
		return "", fmt.Errorf("%q is absolute: give a path relative to the checkout", p)
	}
	s = path.Clean(s)
	if s == ".." || strings.HasPrefix(s, "../") {
		return "", fmt.Errorf("%q leaves the checkout: give a folder inside it", p)
	}
	return s, nil
}

func clean(dir string) string {
	if c, err := cleanRel(dir); err == nil {
		return c
	}
	return dir
}

// ValidDir reports why dir cannot be a folder inside the checkout (components-dir, path).
func ValidDir(dir string) error {
	_, err := cleanRel(dir)
	return err
}

// realFolder resolves the entry at p (a path with no links but its last element) and reports
// whether it is a folder. A link out of the checkout is an error; a dangling one is no folder.
func realFolder(fsys fs.FS, p string, e fs.DirEntry) (string, bool, error) {
	if e.IsDir() {
		return p, true, nil
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return "", false, nil
	}
	real, err := realPath(fsys, p)
	if errors.Is(err, ErrOutside) {
		return "", false, fmt.Errorf("%w; %s", err, fixOutside)
	}
	if checkout.Refused(err) {
		return "", false, err
	}
	if err != nil {
		return "", false, nil
	}
	fi, err := fs.Stat(fsys, real)
	return real, err == nil && fi.IsDir(), nil
}

// realPath returns p (a clean slash path relative to the root of fsys) with every symlink on the way
// resolved by checkout.Resolve, the resolution every reader of the checkout goes through: each ".."
// applies to what the links led to, as the kernel does. A link whose target is absolute, or climbs
// above the root, is an error wrapping ErrOutside that names the link: over an fs.FS the root is the
// whole checkout, and an artifact may hold only files of the checkout. A path through a .git folder
// wraps ErrGit, a loop checkout.ErrLoop. A missing element is the fs error.
func realPath(fsys fs.FS, p string) (string, error) {
	r, err := checkout.Resolve(fsys, p, checkout.Options{Name: "the checkout"})
	if err != nil {
		return "", err
	}
	return r.Path, nil
}

// refusal is the error for a folder that checkout.Resolve refuses, with what to do, or nil for
// any other error (a missing folder, which callers report their own way).
func refusal(err error) error {
	switch {
	case errors.Is(err, ErrOutside):
		return fmt.Errorf("%w: give a folder inside the checkout; %s", err, fixOutside)
	case checkout.Refused(err):
		return err // says what to do
	}
	return nil
}

func hasKustomization(fsys fs.FS, dir string) (bool, error) {
	found := false
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != dir {
			return fs.SkipDir
		}
		if !d.IsDir() && IsKustomization(d.Name()) {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("reading %q: %w", dir, err)
	}
	return found, nil
}
