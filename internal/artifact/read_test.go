package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadRoundTrip: a built layer reads back as the same files.
func TestReadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for p, data := range map[string]string{"base/kustomization.yaml": "resources: []\n", "prod/x.yaml": "a: 1\n", "run.sh": "#!/bin/sh\n"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if p == "run.sh" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(l.Compressed, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(l, got); diff != "" {
		t.Errorf("Read(Build()) (-built +read):\n%s", diff)
	}
}

type hostileEntry struct {
	name string
	typ  byte
	data string
	link string
}

func layerOf(t *testing.T, entries ...hostileEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.data)), Linkname: e.link}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadRefuses: a hostile published layer is refused, whatever the trick.
func TestReadRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []hostileEntry
		limits  Limits
		want    error
	}{
		{"symlink", []hostileEntry{{name: "a", typ: tar.TypeSymlink, link: "/etc/passwd"}}, Limits{}, ErrUnsafeEntry},
		{"hard link", []hostileEntry{{name: "a", typ: tar.TypeLink, link: "b"}}, Limits{}, ErrUnsafeEntry},
		{"device", []hostileEntry{{name: "a", typ: tar.TypeChar}}, Limits{}, ErrUnsafeEntry},
		{"absolute", []hostileEntry{{name: "/etc/x", typ: tar.TypeReg, data: "x"}}, Limits{}, ErrUnsafeEntry},
		{"dot dot", []hostileEntry{{name: "a/../../x", typ: tar.TypeReg, data: "x"}}, Limits{}, ErrUnsafeEntry},
		{"backslash", []hostileEntry{{name: "..\\x", typ: tar.TypeReg, data: "x"}}, Limits{}, ErrUnsafeEntry},
		{"twice", []hostileEntry{{name: "a", typ: tar.TypeReg, data: "x"}, {name: "./a", typ: tar.TypeReg, data: "y"}}, Limits{}, ErrUnsafeEntry},
		{"below a file", []hostileEntry{{name: "a", typ: tar.TypeReg, data: "x"}, {name: "a/b", typ: tar.TypeReg, data: "y"}}, Limits{}, ErrUnsafeEntry},
		{"too many", []hostileEntry{{name: "a", typ: tar.TypeReg}, {name: "b", typ: tar.TypeReg}}, Limits{MaxFiles: 1}, ErrLimit},
		{"file too big", []hostileEntry{{name: "a", typ: tar.TypeReg, data: "12345"}}, Limits{MaxFileSize: 4}, ErrLimit},
		{"sum too big", []hostileEntry{{name: "a", typ: tar.TypeReg, data: "123"}, {name: "b", typ: tar.TypeReg, data: "123"}}, Limits{MaxBytes: 5}, ErrLimit},
		{"path too long", []hostileEntry{{name: "abcdef", typ: tar.TypeReg}}, Limits{MaxPathLen: 5}, ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Read(layerOf(t, tt.entries...), tt.limits)
			if !errors.Is(err, tt.want) {
				t.Errorf("Read: %v, want %v", err, tt.want)
			}
		})
	}
	// A header that declares more than the limits allow is refused before a byte of its data is
	// read: a published layer cannot make the reader buffer what the limits forbid.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err != nil && !strings.Contains(err.Error(), "missed writing") {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(buf.Bytes(), Limits{}); !errors.Is(err, ErrLimit) {
		t.Errorf("a header declaring 1 TiB: %v, want %v", err, ErrLimit)
	}
	if _, err := Read([]byte("not gzip"), Limits{}); err == nil {
		t.Error("Read of a non-gzip blob: no error")
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Read(data, Limits{MaxFiles: 100, MaxBytes: 1 << 20, MaxFileSize: 1 << 20})
		if err != nil {
			return
		}
		var n int64
		for _, f := range l.Files {
			n += int64(len(f.Data))
			if f.Path != "." && (f.Path[0] == '/' || f.Path == ".." || len(f.Path) > 2 && f.Path[:3] == "../") {
				t.Fatalf("unsafe path %q accepted", f.Path)
			}
		}
		if n > 1<<20 || len(l.Files) > 100 {
			t.Fatal("limits not kept")
		}
		_ = l.FS()
	})
}
