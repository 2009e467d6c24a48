package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrUnsafeEntry is wrapped when a published layer holds an entry a build
// never writes: a link, a device, an absolute path or one that climbs out
// with "..". Flux's untar skips or refuses these too; reading the layer
// must not be a way around the rules a build follows.
var ErrUnsafeEntry = errors.New("unsafe entry in the layer")

// Read decodes a published layer (tar+gzip, as Flux stores it) into memory,
// for comparing it with a build. Only what a build writes is accepted:
// directories and regular files under clean relative paths, each path
// once. The same Limits as Build bound the entries, each file, the sum of
// the files and each path; the caller bounds the compressed bytes.
func Read(compressed []byte, l Limits) (*Layer, error) {
	l = l.withDefaults()
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("reading the layer: %w", err)
	}
	zr.Multistream(false)
	diff := sha256.New()
	tr := tar.NewReader(io.TeeReader(zr, diff))
	var (
		files []File
		seen  = map[string]bool{} // path -> is a directory
		isDir = map[string]bool{}
		total int64
	)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the layer: %w", err)
		}
		p, err := entryPath(h.Name, l.MaxPathLen)
		if err != nil {
			return nil, err
		}
		if seen[p] {
			return nil, fmt.Errorf("reading the layer: %q appears twice: %w", p, ErrUnsafeEntry)
		}
		if l.MaxFiles >= 0 && len(files)+1 > l.MaxFiles {
			return nil, fmt.Errorf("reading the layer: more than %d entries (max-files): raise max-files: %w", l.MaxFiles, ErrLimit)
		}
		for d := path.Dir(p); p != "." && d != "."; d = path.Dir(d) {
			if seen[d] && !isDir[d] {
				return nil, fmt.Errorf("reading the layer: %q is below the file %q: %w", p, d, ErrUnsafeEntry)
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			seen[p], isDir[p] = true, true
			files = append(files, File{Path: p, Dir: true, Mode: 0o755})
		case tar.TypeReg:
			if l.MaxFileSize >= 0 && h.Size > l.MaxFileSize {
				return nil, fmt.Errorf("reading the layer: %q is %d bytes, more than max-file-size (%d bytes): raise max-file-size: %w", p, h.Size, l.MaxFileSize, ErrLimit)
			}
			if l.MaxBytes >= 0 && total+h.Size > l.MaxBytes {
				return nil, fmt.Errorf("reading the layer: the files add up to more than %d bytes (max-size): raise max-size: %w", l.MaxBytes, ErrLimit)
			}
			// The header's size is what the tar reader lets through: no more is read.
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("reading the layer: %q: %w", p, err)
			}
			total += int64(len(data))
			mode := int64(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			seen[p] = true
			files = append(files, File{Path: p, Mode: mode, Data: data})
		default:
			return nil, fmt.Errorf("reading the layer: %q is not a file or a folder (tar type %q): %w", p, h.Typeflag, ErrUnsafeEntry)
		}
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(zr, 1<<20)); err != nil {
		return nil, fmt.Errorf("reading the layer: %w", err)
	}
	d := sha256.Sum256(compressed)
	return &Layer{
		Files: files, Compressed: compressed, Size: int64(len(compressed)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", d)},
		DiffID: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", diff.Sum(nil))},
	}, nil
}

// entryPath is the clean relative path of a tar entry: "./a/b", "a/b/" and
// "a/b" are "a/b"; "./" and "." are ".". Absolute paths, ".." and
// backslashes (a Windows path separator to some readers) are refused.
func entryPath(name string, maxLen int) (string, error) {
	if maxLen >= 0 && len(name) > maxLen {
		return "", fmt.Errorf("reading the layer: a path is %d bytes, more than %d: %w", len(name), maxLen, ErrLimit)
	}
	if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("reading the layer: path %q: %w", name, ErrUnsafeEntry)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "", fmt.Errorf("reading the layer: path %q: %w", name, ErrUnsafeEntry)
		}
	}
	p := path.Clean(name)
	if p == "" {
		p = "."
	}
	return p, nil
}
