package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/sign"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1 // a component failed (after all the others finished)
	ExitUsage  = 2 // bad flags or inputs: nothing was done
)

// Run is the whole program: main only wires signals and the exit code. getenv is the seam for the
// environment (tests hand in a map); stdout receives results only, stderr the log.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, getenv, stderr)
	if errors.Is(err, config.ErrHelp) {
		return ExitOK
	}
	log := report.NewLog(stderr, getenv("GITHUB_ACTIONS") == "true", getenv)
	if cfg != nil {
		// Mask before anything else can print: the runner hides them from here on.
		for _, s := range cfg.Secrets() {
			log.Mask(s)
		}
		// And the base64 of user:password that a Basic header carries, for every user name the
		// registry client may send with a password (registry-username, else GITHUB_ACTOR, else
		// x-access-token on ghcr.io).
		for _, pass := range []string{cfg.Password, cfg.GitHub.Token} {
			for _, user := range []string{cfg.Username, cfg.GitHub.Actor, "x-access-token"} {
				log.MaskCredential(user, pass)
			}
		}
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		for _, e := range unjoin(err) {
			log.Error("", 0, e.Error())
		}
		return ExitUsage
	}

	r := &runner{cfg: cfg, log: log, stdout: stdout, getenv: getenv}
	code, err := r.run(ctx)
	if err != nil {
		for _, e := range unjoin(err) {
			log.Error("", 0, e.Error())
		}
		if code == ExitOK {
			code = ExitFailed
		}
	}
	return code
}

// unjoin splits an errors.Join into its parts, so each problem gets its own line or annotation.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

type runner struct {
	cfg    *config.Config
	log    *report.Log
	stdout io.Writer
	getenv func(string) string
	src    *source
	// snippet is the verify block for the OCIRepository, once a signer knows it.
	snippet     string
	snippetOnce sync.Once
	skipNotice  sync.Once
	signers     signers
	signer      sign.Signer // publish's, nil when not signing
	registry    *registry.Client
	validators  validators
}

func (r *runner) run(ctx context.Context) (int, error) {
	src, err := r.openSource(ctx)
	if err != nil {
		return ExitUsage, err
	}
	r.src = src
	r.registry = r.client()
	switch r.cfg.Command {
	case config.Publish:
		return r.publish(ctx)
	case config.Detect:
		return r.detectCmd(ctx)
	case config.Promote:
		return r.promote(ctx)
	case config.Verify:
		return r.verify(ctx)
	case config.Validate:
		return r.validateCmd(ctx)
	}
	return ExitUsage, fmt.Errorf("command %q is not available in this build yet", r.cfg.Command)
}

// readEvent reads the GitHub event payload, if any.
func (r *runner) readEvent() []byte {
	p := r.cfg.GitHub.EventPath
	if p == "" {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		r.log.Warning("reading the event payload %q: %v; change detection treats every component as a candidate", p, err)
		return nil
	}
	return b
}
