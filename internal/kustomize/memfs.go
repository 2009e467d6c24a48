package kustomize

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// memFS is the file system kustomize builds over: the artifact's files,
// read-only, and nothing else. kyaml's own in-memory file system refuses
// names outside [a-zA-Z0-9-_.:] ("illegal name … in file creation"),
// which git and Flux accept (spaces, letters beyond ASCII, + @ ~ ( , *),
// and an on-disk one would let a build read the machine. Paths are
// absolute ("/" is the artifact's root); ".." never climbs above it.
type memFS struct {
	files map[string][]byte   // "a/b.yaml" -> content
	dirs  map[string][]string // "a" -> sorted entry names; "." is the root
	// root, when set, replaces the content of one file for one build: the
	// root kustomization with fleetpush's marker patches.
	root     string
	rootData []byte
}

var _ filesys.FileSystem = (*memFS)(nil)

func newMemFS() *memFS {
	return &memFS{files: map[string][]byte{}, dirs: map[string][]string{".": nil}}
}

// add records a file or folder of the artifact (p is slash-separated and
// relative, as fs.WalkDir gives it). Not safe for concurrent use; builds
// only read.
func (m *memFS) add(p string, data []byte, dir bool) {
	if dir {
		if _, ok := m.dirs[p]; ok {
			return
		}
		m.dirs[p] = nil
	} else {
		m.files[p] = data
	}
	if p == "." {
		return
	}
	parent := path.Dir(p)
	if _, ok := m.dirs[parent]; !ok {
		m.add(parent, nil, true)
	}
	entries := m.dirs[parent]
	if i, found := slices.BinarySearch(entries, path.Base(p)); !found {
		m.dirs[parent] = slices.Insert(entries, i, path.Base(p))
	}
}

// withRoot returns a view of m in which file p holds data.
func (m *memFS) withRoot(p string, data []byte) *memFS {
	c := *m
	c.root, c.rootData = m.key(p), data
	return &c
}

// key turns a path kustomize asks for into a key of files or dirs. It is
// cleaned as an absolute path, so "/a/../../b" is "b", never outside.
func (m *memFS) key(p string) string {
	p = filepath.ToSlash(p)
	k := strings.TrimPrefix(path.Clean("/"+p), "/")
	if k == "" {
		return "."
	}
	return k
}

func (m *memFS) file(p string) ([]byte, bool) {
	k := m.key(p)
	if k == m.root && m.root != "" {
		return m.rootData, true
	}
	d, ok := m.files[k]
	return d, ok
}

func (m *memFS) isDirKey(k string) bool { _, ok := m.dirs[k]; return ok }

func notExist(op, p string) error {
	return &fs.PathError{Op: op, Path: p, Err: fs.ErrNotExist}
}

var errReadOnly = errors.New("the artifact is read-only during validation")

func readOnly(op, p string) error { return &fs.PathError{Op: op, Path: p, Err: errReadOnly} }

// Create is refused: builds only read.
func (m *memFS) Create(p string) (filesys.File, error) { return nil, readOnly("create", p) }

// Mkdir is refused: builds only read.
func (m *memFS) Mkdir(p string) error { return readOnly("mkdir", p) }

// MkdirAll is refused: builds only read.
func (m *memFS) MkdirAll(p string) error { return readOnly("mkdir", p) }

// RemoveAll is refused: builds only read.
func (m *memFS) RemoveAll(p string) error { return readOnly("remove", p) }

// WriteFile is refused: builds only read.
func (m *memFS) WriteFile(p string, _ []byte) error { return readOnly("write", p) }

// Open opens a file for reading.
func (m *memFS) Open(p string) (filesys.File, error) {
	k := m.key(p)
	if data, ok := m.file(p); ok {
		return &memFile{Reader: bytes.NewReader(data), info: memInfo{name: path.Base(k), size: int64(len(data))}}, nil
	}
	if m.isDirKey(k) {
		return &memFile{Reader: bytes.NewReader(nil), info: memInfo{name: path.Base(k), dir: true}}, nil
	}
	return nil, notExist("open", p)
}

// IsDir reports whether p is a folder of the artifact.
func (m *memFS) IsDir(p string) bool { return m.isDirKey(m.key(p)) }

// ReadDir returns the names in folder p.
func (m *memFS) ReadDir(p string) ([]string, error) {
	k := m.key(p)
	entries, ok := m.dirs[k]
	if !ok {
		if _, isFile := m.files[k]; isFile {
			return nil, fmt.Errorf("%s is not a directory", p)
		}
		return nil, notExist("readdir", p)
	}
	return slices.Clone(entries), nil
}

// CleanedAbs returns the folder of p and, if p is a file, its name.
func (m *memFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	k := m.key(p)
	if m.isDirKey(k) {
		return filesys.ConfirmedDir(abs(k)), "", nil
	}
	if _, ok := m.file(p); ok {
		return filesys.ConfirmedDir(abs(path.Dir(k))), path.Base(k), nil
	}
	return "", "", notExist("stat", p)
}

func abs(k string) string {
	if k == "." {
		return "/"
	}
	return "/" + k
}

// Exists reports whether p is a file or folder of the artifact.
func (m *memFS) Exists(p string) bool {
	_, ok := m.file(p)
	return ok || m.IsDir(p)
}

// Glob returns the files matching pattern (filepath.Match semantics),
// hidden files only when the pattern asks for them, as kyaml does.
func (m *memFS) Glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	var out []string
	for k := range m.files {
		if ok, _ := filepath.Match(pattern, abs(k)); ok {
			out = append(out, abs(k))
		}
	}
	if !filesys.IsHiddenFilePath(pattern) {
		out = filesys.RemoveHiddenFiles(out)
	}
	slices.Sort(out)
	return out, nil
}

// ReadFile returns a copy of file p.
func (m *memFS) ReadFile(p string) ([]byte, error) {
	data, ok := m.file(p)
	if !ok {
		if m.IsDir(p) {
			return nil, fmt.Errorf("cannot read content from non-file '%s'", p)
		}
		return nil, notExist("read", p)
	}
	return bytes.Clone(data), nil
}

// Walk visits p and everything under it in lexical order.
func (m *memFS) Walk(p string, walkFn filepath.WalkFunc) error {
	k := m.key(p)
	if !m.Exists(p) {
		return notExist("walk", p)
	}
	err := m.walk(k, walkFn)
	if errors.Is(err, filepath.SkipDir) || errors.Is(err, filepath.SkipAll) {
		return nil
	}
	return err
}

func (m *memFS) walk(k string, walkFn filepath.WalkFunc) error {
	entries, dir := m.dirs[k]
	var info memInfo
	if dir {
		info = memInfo{name: path.Base(k), dir: true}
	} else {
		data, _ := m.file(k)
		info = memInfo{name: path.Base(k), size: int64(len(data))}
	}
	err := walkFn(abs(k), info, nil)
	if !dir {
		return err // SkipDir from a file skips the rest of its folder
	}
	if errors.Is(err, filepath.SkipDir) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := m.walk(path.Join(k, e), walkFn); err != nil {
			if errors.Is(err, filepath.SkipDir) {
				break
			}
			return err
		}
	}
	return nil
}

// memFile is an open file of memFS.
type memFile struct {
	*bytes.Reader
	info memInfo
}

func (f *memFile) Write([]byte) (int, error)  { return 0, errReadOnly }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Stat() (os.FileInfo, error) { return f.info, nil }

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
