package testenv

import (
	"fmt"
	"syscall"
	"testing"
)

// RefusingAddr returns a host:port on 127.0.0.1 that refuses every connection until the test
// ends. The port is bound and never listened on, so the kernel answers each connection with a
// reset, and no other test or server can take the port meanwhile. (A port that was merely free a
// moment ago is not dead: a server started by a parallel test may be given it, and then it
// answers.)
func RefusingAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("opening a socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) }) //nolint:errcheck // a test socket
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("binding a port on 127.0.0.1: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("reading the bound port: %v", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("bound address is %T, want IPv4", sa)
	}
	return fmt.Sprintf("127.0.0.1:%d", in4.Port)
}
