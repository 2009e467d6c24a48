// Command fleetpush publishes Kubernetes components as signed, Flux-ready OCI artifacts.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetpush/fleetpush/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
