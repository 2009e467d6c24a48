// Command fleetpush publishes Kubernetes components as signed, Flux-ready OCI artifacts.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fleetpush/fleetpush/internal/app"
	"github.com/fleetpush/fleetpush/internal/heap"
)

func main() {
	heap.StartAt(64 << 20)
	// Buffered for two: the first signal cancels the run, the second exits at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(supervise(sigs, time.After, os.Stderr, func(ctx context.Context) int {
		return app.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	}))
}
