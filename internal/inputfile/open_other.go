//go:build !unix

package inputfile

import "os"

// open opens path for reading. Outside Unix, opening a named pipe or a device does not wait for
// a peer; the type check right after refuses them.
func open(path string) (*os.File, error) { return os.Open(path) }
