package artifact

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"slices"
	"time"
)

// FS returns a read-only view of exactly the files in the layer, for
// validating what the cluster will see. Directories that have no entry of
// their own (a file re-included by a negated ignore pattern under an
// ignored directory) are shown as directories. Modification times are zero.
// The view shares the layer's data: do not modify the layer while using it.
func (l *Layer) FS() fs.FS {
	root := &node{info: info{name: ".", mode: fs.ModeDir | 0o755}}
	nodes := map[string]*node{".": root}
	var ensureDir func(p string) *node
	ensureDir = func(p string) *node {
		if n, ok := nodes[p]; ok {
			return n
		}
		parent := ensureDir(path.Dir(p))
		n := &node{info: info{name: path.Base(p), mode: fs.ModeDir | 0o755}}
		nodes[p] = n
		parent.children = append(parent.children, n)
		return n
	}
	for _, f := range l.Files {
		if f.Path == "." {
			continue
		}
		if f.Dir {
			ensureDir(f.Path)
			continue
		}
		parent := ensureDir(path.Dir(f.Path))
		n := &node{info: info{name: path.Base(f.Path), mode: fs.FileMode(f.Mode) & fs.ModePerm, size: int64(len(f.Data))}, data: f.Data}
		nodes[f.Path] = n
		parent.children = append(parent.children, n)
	}
	for _, n := range nodes {
		slices.SortFunc(n.children, func(a, b *node) int {
			switch {
			case a.info.name < b.info.name:
				return -1
			case a.info.name > b.info.name:
				return 1
			}
			return 0
		})
	}
	return &layerFS{nodes: nodes}
}

type layerFS struct{ nodes map[string]*node }

type node struct {
	info     info
	data     []byte
	children []*node
}

func (n *node) isDir() bool { return n.info.mode.IsDir() }

func (f *layerFS) lookup(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n, ok := f.nodes[name]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// Open implements fs.FS.
func (f *layerFS) Open(name string) (fs.File, error) {
	n, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return &openDir{n: n}, nil
	}
	return &openFile{n: n, r: bytes.NewReader(n.data)}, nil
}

// ReadFile implements fs.ReadFileFS; the caller gets its own copy.
func (f *layerFS) ReadFile(name string) ([]byte, error) {
	n, err := f.lookup("readfile", name)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errIsDir}
	}
	return bytes.Clone(n.data), nil
}

// ReadDir implements fs.ReadDirFS.
func (f *layerFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	return n.entries(), nil
}

// Stat implements fs.StatFS.
func (f *layerFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return n.info, nil
}

func (n *node) entries() []fs.DirEntry {
	out := make([]fs.DirEntry, len(n.children))
	for i, c := range n.children {
		out[i] = fs.FileInfoToDirEntry(c.info)
	}
	return out
}

type fsError string

func (e fsError) Error() string { return string(e) }

const (
	errIsDir  fsError = "is a directory"
	errNotDir fsError = "not a directory"
)

type info struct {
	name string
	mode fs.FileMode
	size int64
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.size }
func (i info) Mode() fs.FileMode  { return i.mode }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return i.mode.IsDir() }
func (i info) Sys() any           { return nil }

type openFile struct {
	n *node
	r *bytes.Reader
}

func (o *openFile) Stat() (fs.FileInfo, error)                { return o.n.info, nil }
func (o *openFile) Read(p []byte) (int, error)                { return o.r.Read(p) }
func (o *openFile) ReadAt(p []byte, off int64) (int, error)   { return o.r.ReadAt(p, off) }
func (o *openFile) Seek(off int64, whence int) (int64, error) { return o.r.Seek(off, whence) }
func (o *openFile) Close() error                              { return nil }

type openDir struct {
	n   *node
	off int
}

func (o *openDir) Stat() (fs.FileInfo, error) { return o.n.info, nil }
func (o *openDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: o.n.info.name, Err: errIsDir}
}
func (o *openDir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (o *openDir) ReadDir(count int) ([]fs.DirEntry, error) {
	all := o.n.entries()[o.off:]
	if count <= 0 {
		o.off += len(all)
		return all, nil
	}
	if len(all) == 0 {
		return nil, io.EOF
	}
	if count > len(all) {
		count = len(all)
	}
	o.off += count
	return all[:count], nil
}
