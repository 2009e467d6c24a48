package checkout

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// RealPath returns p, a path on disk relative to the working directory or
// absolute, as an absolute path with every link resolved the kernel's way:
// each ".." applies to what the links before it led to, never to the
// spelling (filepath.Abs and filepath.Clean remove "link/.." as text, which
// names another folder when link is a symlink). Elements that do not exist
// yet are appended as they will be created (MkdirAll), so the answer names
// the folder a later write lands in.
func RealPath(p string) (string, error) {
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		if wd, err = filepath.EvalSymlinks(wd); err != nil {
			return "", err
		}
		p = wd + string(filepath.Separator) + p
	}
	return realPath(p, 0)
}

func realPath(p string, depth int) (string, error) {
	r, err := filepath.EvalSymlinks(p)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return r, err
	}
	dir, base := filepath.Split(p)
	if len(dir) > 1 {
		dir = dir[:len(dir)-1] // the separator Split leaves
	}
	if dir == "" || dir == p || depth > 4096 {
		return "", err
	}
	rd, err := realPath(dir, depth+1)
	if err != nil {
		return "", err
	}
	switch base {
	case "", ".":
		return rd, nil
	case "..":
		return filepath.Dir(rd), nil
	}
	return filepath.Join(rd, base), nil
}

// Within reports whether p is root or below it; both are absolute, clean
// and free of symlinks (RealPath's answers).
func Within(root, p string) bool {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	return r != ".." && !filepath.IsAbs(r) && !startsWithDotDot(r)
}

func startsWithDotDot(r string) bool {
	return len(r) >= 3 && r[:2] == ".." && os.IsPathSeparator(r[2])
}
