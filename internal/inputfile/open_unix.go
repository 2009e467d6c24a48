//go:build unix

package inputfile

import (
	"os"
	"syscall"
)

// open opens path for reading without blocking: opening a FIFO for reading otherwise waits for a
// writer, which may never come. O_NOCTTY keeps a terminal device from becoming the process's
// controlling terminal; such a device is refused right after anyway.
func open(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}
