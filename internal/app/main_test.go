package app

import (
	"os"
	"testing"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestMain runs up to four tests at once whatever the number of cores (they wait on registries,
// git and Sigstore more than they compute), and stops the Sigstore stack at the end.
func TestMain(m *testing.M) {
	testenv.WaitBound(4)
	os.Exit(testenv.Main(m))
}
