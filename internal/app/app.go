package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/fleetpush/fleetpush/internal/gitdiff"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/retention"
	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1 // a component failed (after all the others finished)
	ExitUsage  = 2 // bad flags or inputs: nothing was done
)

// Run is the whole program: main only wires signals and the exit code. getenv is the seam for the
// environment (tests hand in a map); stdout receives results only, stderr the log. opts replace
// collaborators for tests; main passes none.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, opts ...Option) int {
	cfg, err := config.Load(args, getenv, stderr)
	if errors.Is(err, config.ErrHelp) {
		return ExitOK
	}
	log := report.NewLog(stderr, getenv("GITHUB_ACTIONS") == "true", getenv)
	// Last: the annotations the budget held back are counted once everything else is written.
	defer log.Close()
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
		logErrors(log, err)
		return ExitUsage
	}

	code, err := execute(ctx, cfg, log, stdout, newOptions(opts))
	if err != nil {
		logErrors(log, err)
		if code == ExitOK {
			code = ExitFailed
		}
	}
	return code
}

// logErrors writes each problem of err on its own line (or annotation).
func logErrors(log *report.Log, err error) {
	for _, e := range config.Unjoin(err) {
		log.Error("", 0, e.Error())
	}
}

// execute builds the collaborators of one run once, each from the single place that knows it (the
// event, the main branch, the registry client, the signers, the validator), and hands each mode
// the ones it needs.
func execute(ctx context.Context, cfg *config.Config, log *report.Log, stdout io.Writer, o options) (int, error) {
	event := gitdiff.ReadEvent(cfg.GitHub.EventName, cfg.GitHub.EventPath)
	src, err := openSource(ctx, cfg, log)
	if err != nil {
		return ExitUsage, err
	}
	policy := tags.Policy{
		MainBranch: mainBranch(cfg.MainBranch, event),
		LatestTag:  cfg.LatestTag, StableTag: cfg.StableTag, SHALength: cfg.SHALength, Single: cfg.Single(),
	}.WithDefaults()
	client := registry.New(append([]registry.Option{
		registry.WithInsecure(cfg.Insecure),
		registry.WithCredentials(registry.Credentials{
			Username: cfg.Username, Password: cfg.Password,
			GitHubActor: cfg.GitHub.Actor, GitHubToken: cfg.GitHub.Token,
		}),
		registry.WithUserAgent("fleetpush"),
		registry.WithConcurrency(cfg.Concurrency),
		registry.WithMaxTagPages(cfg.MaxTagPages),
		registry.WithMaxBlob(cfg.MaxBytes),
		registry.WithMask(log.MaskCredential),
		registry.WithLogf(func(f string, a ...any) { log.Printf("registry: "+f, a...) }),
	}, o.registry...)...)
	out := &reporter{log: log, stdout: stdout, json: cfg.Output == "json", jobs: cfg.Concurrency, now: o.clock.Now}
	tagOpts := []tagger.Option{tagger.WithClock(o.clock)}
	stores := newStores(client, cfg.Repository)
	signers := newSigners(cfg, client, log, o.newSign)
	det := &detector{all: cfg.All, base: cfg.Base, head: cfg.Head, ref: cfg.Ref, event: event, src: src, mainBranch: policy.MainBranch, log: log}
	build := newBuilder(cfg, src, log)

	switch cfg.Command {
	case config.Publish:
		p := &publishMode{log: log, out: out, src: src, policy: policy, detect: det, build: build, stores: stores, signers: signers,
			sha: cfg.SHA, ref: cfg.Ref, explicit: len(cfg.Components) > 0, validate: cfg.ValidateOn, dryRun: cfg.DryRunOn, annotations: cfg.Annotations,
			tagOptions: tagOpts}
		if cfg.DryRunOn {
			out.commentFile = cfg.GitHub.Actions
			p.preview = newPreviewer(cfg, cfg.GitHub.EventName, stores, build)
		}
		return p.run(ctx)
	case config.Detect:
		return (&detectMode{out: out, detect: det, single: cfg.Single()}).run(ctx)
	case config.Validate:
		out.commentFile = cfg.GitHub.Actions
		return (&validateMode{out: out, build: build, components: src.components, preview: newPreviewer(cfg, cfg.GitHub.EventName, stores, build)}).run(ctx)
	case config.Promote:
		p := &promoteMode{log: log, out: out, components: src.components, stores: stores, signers: signers,
			version: cfg.Version, channel: cfg.Channel, dryRun: cfg.DryRunOn, tagOptions: tagOpts}
		return p.run(ctx)
	case config.Prune:
		p := &pruneMode{log: log, out: out, components: src.components, stores: stores, dryRun: cfg.DryRunOn, clock: o.clock,
			policy:  retention.Policy{Keep: cfg.Keep, KeepDays: cfg.KeepDays, Grace: cfg.Grace},
			ghToken: cmp.Or(cfg.Password, cfg.GitHub.Token), ghAPI: cmp.Or(cfg.GitHub.APIURL, gitHubAPI(cfg.GitHub.ServerURL))}
		return p.run(ctx)
	case config.Verify:
		v := &verifyMode{out: out, components: src.components, policy: policy, stores: stores, signers: signers, version: cfg.Version}
		return v.run(ctx)
	}
	return ExitUsage, fmt.Errorf("command %q is not available in this build yet", cfg.Command)
}

// mainBranch is the branch whose pushes move latest: the main-branch input, else the
// repository's default branch as the event says, else main. Every mode reads it from here.
func mainBranch(input string, event gitdiff.Event) string {
	switch {
	case input != "":
		return input
	case event.DefaultBranch != "":
		return event.DefaultBranch
	}
	return tags.DefaultMainBranch
}
