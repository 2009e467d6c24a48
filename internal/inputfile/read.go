package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// ErrNotRegular is wrapped by the error of a path that names something other than a regular
// file: a directory, a FIFO, a device, a socket.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error of a file larger than its Kind's cap.
var ErrTooLarge = errors.New("larger than its cap")

// Error is a file an input names that cannot be read as one.
type Error struct {
	Kind Kind
	Path string
	// Problem says what is wrong with the file, Fix what to do.
	Problem, Fix string
	Err          error
}

func (e *Error) Error() string {
	return fmt.Sprintf("reading %s %s", e.Kind.Input, e.Detail())
}

// Detail is the error without the input's name, for messages that name it already.
func (e *Error) Detail() string {
	return fmt.Sprintf("%q: %s: %s", e.Path, e.Problem, e.Fix)
}

func (e *Error) Unwrap() error { return e.Err }

// Read returns the contents of the file at path, which the input of k names. It refuses what is
// not a regular file before reading a byte (a FIFO is opened without blocking; a device, also
// behind a symlink, is never read), and a file larger than k.Max.
func Read(k Kind, path string) ([]byte, error) {
	fail := func(problem, fix string, err error) ([]byte, error) {
		return nil, &Error{Kind: k, Path: path, Problem: problem, Fix: fix, Err: err}
	}
	give := "give the path of the file that holds " + k.Holds
	if k.Or != "" {
		give += ", " + k.Or
	}
	if path == "" {
		return fail("empty path", give, fs.ErrNotExist)
	}
	f, err := open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fail("no such file", give, err)
		case errors.Is(err, fs.ErrPermission):
			return fail("permission denied", "make the file readable by the user the run is under, or "+give, err)
		}
		return fail(strings.TrimPrefix(err.Error(), "open "+path+": "), give, err)
	}
	defer f.Close()
	// The descriptor, not the path: a path checked first and opened after could be swapped for
	// a FIFO or a device in between.
	fi, err := f.Stat()
	if err != nil {
		return fail(err.Error(), give, err)
	}
	if !fi.Mode().IsRegular() {
		return fail("it is "+describe(fi.Mode())+", not a regular file", give, ErrNotRegular)
	}
	tooLarge := func() ([]byte, error) {
		return fail(fmt.Sprintf("larger than %s, the most %s takes", Size(k.Max), k.Holds),
			"check that "+k.Input+" names the right file", ErrTooLarge)
	}
	if fi.Size() > k.Max {
		return tooLarge()
	}
	// A regular file may still grow while it is read, or report a size of zero and hold more
	// (some /proc files): the cap holds on what is read, not only on what Stat said.
	buf, err := io.ReadAll(io.LimitReader(f, k.Max+1))
	if err != nil {
		return fail(err.Error(), give, err)
	}
	if int64(len(buf)) > k.Max {
		return tooLarge()
	}
	return buf, nil
}

// describe names a file mode that is not a regular file's.
func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file (" + m.Type().String() + ")"
}

// Size formats a byte count the way the README and the size inputs write it: 64 KiB, 4 MiB.
func Size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
