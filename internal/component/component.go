package component

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Component is one artifact to publish.
type Component struct {
	Name string // DNS-1123 label; "" in single-artifact mode (the artifact is the repository itself)
	Dir  string // slash path relative to the source root; "." for the whole checkout
}

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
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("components-dir %q does not exist in the checkout: set components-dir to the folder holding your components, or path for a single artifact", dir)
		}
		return nil, fmt.Errorf("reading components-dir %q: %w", dir, err)
	}
	var out []Component
	var errs []error
	for _, e := range entries {
		if !isDir(fsys, dir, e) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := path.Join(dir, e.Name())
		has, err := hasKustomization(fsys, p)
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
		fi, err := fs.Stat(fsys, p)
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
	fi, err := fs.Stat(fsys, c)
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

func isDir(fsys fs.FS, dir string, e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink != 0 {
		fi, err := fs.Stat(fsys, path.Join(dir, e.Name()))
		return err == nil && fi.IsDir()
	}
	return false
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
