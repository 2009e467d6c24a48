package inputfile

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var testKind = Kind{Input: "cosign-key", Holds: "a cosign key (PEM)", Max: 1 << 10}

// TestReadRefuses: every path that is not a regular file within the cap is refused before it is
// read, with an error that names the input, says what is wrong and what to do. None of these
// may block or run out of memory: a FIFO without a writer, an endless device (also behind a
// symlink), a directory, a socket, a sparse file far larger than the cap.
func TestReadRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	if err := os.WriteFile(huge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 1<<40); err != nil { // sparse: nothing written
		t.Fatal(err)
	}
	over := filepath.Join(dir, "over")
	if err := os.WriteFile(over, bytes.Repeat([]byte("x"), int(testKind.Max)+1), 0o600); err != nil {
		t.Fatal(err)
	}
	zeroLink := filepath.Join(dir, "zero-link")
	if err := os.Symlink("/dev/zero", zeroLink); err != nil {
		t.Fatal(err)
	}
	fifoLink := filepath.Join(dir, "fifo-link")
	if err := os.Symlink(fifo, fifoLink); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	for _, tc := range []struct {
		name, path string
		is         error
		want       string
	}{
		{"fifo", fifo, ErrNotRegular, "a named pipe (FIFO), not a regular file"},
		{"symlink to a fifo", fifoLink, ErrNotRegular, "a named pipe (FIFO)"},
		{"/dev/zero", "/dev/zero", ErrNotRegular, "a character device"},
		{"symlink to /dev/zero", zeroLink, ErrNotRegular, "a character device"},
		{"directory", dir, ErrNotRegular, "a directory"},
		{"socket", sock, nil, "reading cosign-key"},
		{"sparse 1 TiB", huge, ErrTooLarge, "larger than 1 KiB, the most a cosign key (PEM) takes"},
		{"one byte over", over, ErrTooLarge, "check that cosign-key names the right file"},
		{"missing", filepath.Join(dir, "nope"), fs.ErrNotExist, "no such file: give the path of the file that holds a cosign key (PEM)"},
		{"empty path", "", fs.ErrNotExist, "empty path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := Read(testKind, tc.path)
			if err == nil {
				t.Fatalf("Read(%q) = %d bytes, want an error", tc.path, len(b))
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind.Input != "cosign-key" {
				t.Errorf("error %v does not name the input", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestReadFIFOWithWriter: a FIFO is refused even while a writer keeps it open and full, so an
// attacker who feeds one cannot make the reader take an endless stream.
func TestReadFIFOWithWriter(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// O_RDWR opens a FIFO without waiting for a reader (Linux), and keeps it open for writing.
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(bytes.Repeat([]byte("x"), 4096)); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(testKind, fifo); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Read of a fed FIFO: %v, want ErrNotRegular", err)
	}
}

// TestReadRegular: a regular file up to the cap is read whole, also through a symlink.
func TestReadRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []int{0, 1, int(testKind.Max)} {
		want := bytes.Repeat([]byte("k"), n)
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, want, 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link")
		os.Remove(link)
		if err := os.Symlink(p, link); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{p, link} {
			got, err := Read(testKind, path)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Read(%q) of %d bytes = %d bytes, %v", path, n, len(got), err)
			}
		}
	}
}

// TestSize pins how caps are written in errors and the README.
func TestSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{64 << 10: "64 KiB", 4 << 20: "4 MiB", 25 << 20: "25 MiB", 1 << 30: "1 GiB", 1000: "1000 bytes", 1536: "1536 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// FuzzRead: whatever a regular file holds and whatever the cap, Read returns exactly the file
// when it fits and ErrTooLarge when it does not, never more than the cap.
func FuzzRead(f *testing.F) {
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n"), int64(10))
	f.Add([]byte{}, int64(0))
	f.Add(bytes.Repeat([]byte{0}, 100), int64(100))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, max int64) {
		if max < 0 {
			max = -max
		}
		if max < 0 { // math.MinInt64
			max = 0
		}
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(Kind{Input: "x", Holds: "y", Max: max}, p)
		if int64(len(data)) > max {
			if !errors.Is(err, ErrTooLarge) || got != nil {
				t.Fatalf("%d bytes under cap %d: %d bytes, %v", len(data), max, len(got), err)
			}
			return
		}
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes under cap %d: %d bytes, %v", len(data), max, len(got), err)
		}
	})
}
