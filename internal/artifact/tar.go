package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// gzipWriters recycles compressors: a flate compressor holds about 800 KB of state, which
// dominated the allocations of a build. Reset gives byte-identical output to a new writer: the
// header (no name, zero mtime) and level are kept, the stream state is not.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// encode writes files as Flux's builder does: one archive/tar header per
// entry with only name, type, mode and size set (what tar.FileInfoHeader
// leaves once Flux has zeroed owners and times), through compress/gzip at
// the default level with a zero header.
func encode(files []File) (*Layer, error) {
	var gz bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&gz) // DefaultCompression, no name, ModTime zero → mtime 0
	diff := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, diff))
	for _, f := range files {
		hdr := &tar.Header{
			Name:     f.Path,
			Mode:     f.Mode,
			Typeflag: tar.TypeReg,
			Size:     int64(len(f.Data)),
		}
		if f.Dir {
			hdr.Typeflag = tar.TypeDir
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if !f.Dir {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(gz.Bytes())
	return &Layer{
		Files:      files,
		Compressed: gz.Bytes(),
		Digest:     v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		DiffID:     v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))},
		Size:       int64(gz.Len()),
	}, nil
}
