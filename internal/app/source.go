package app

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/fleetpush/fleetpush/internal/gitdiff"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// source is the checkout a run publishes from: its files, its commit and where it lives.
type source struct {
	dir        string // the checkout folder on disk (cfg.Source)
	git        *gitdiff.Repo
	gitErr     error // why git is unavailable, when it is
	sha        string
	created    time.Time
	ref        tags.Ref
	url        string // https URL of the repository, for the source annotation
	components []component.Component
}

// openSource finds the components of the checkout and opens its git repository, if it is one.
func openSource(ctx context.Context, cfg *config.Config, log *report.Log) (*source, error) {
	fi, err := os.Stat(cfg.Source)
	if err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("source: folder %q does not exist: give the checkout with --source (in Actions, run actions/checkout first)", cfg.Source)
	}
	s := &source{dir: cfg.Source}
	fsys := os.DirFS(cfg.Source)
	switch {
	case cfg.Path != "":
		c, err := component.Single(fsys, cfg.Path)
		if err != nil {
			return nil, err
		}
		s.components = []component.Component{c}
	case len(cfg.Components) > 0 && cfg.Command == config.Promote:
		// promote moves tags of published releases: the folder need not exist any more.
		for _, n := range cfg.Components {
			s.components = append(s.components, component.Component{Name: n, Dir: path.Join(cfg.ComponentsDir, n)})
		}
	case len(cfg.Components) > 0:
		if s.components, err = component.Select(fsys, cfg.ComponentsDir, cfg.Components); err != nil {
			return nil, err
		}
	default:
		if s.components, err = component.Discover(fsys, cfg.ComponentsDir); err != nil {
			return nil, err
		}
	}

	gitOpts := []gitdiff.Option{gitdiff.WithLogger(func(f string, a ...any) { log.Printf("git: "+f, a...) })}
	if cfg.Command == config.Publish {
		// publish resolves this commit first thing (resolveCommit): git reads it beside Open.
		gitOpts = append(gitOpts, gitdiff.WithCommit(cfg.SHA))
	}
	s.git, s.gitErr = gitdiff.Open(ctx, cfg.Source, gitOpts...)
	s.url = repoURL(cfg.GitHub.ServerURL, cfg.GitHub.Repository)
	if s.url == "" && s.git != nil {
		if u, err := s.git.RemoteURL(ctx); err == nil {
			s.url = u
		}
	}
	return s, nil
}

// resolveCommit resolves what is being published: the commit (sha, the --sha input or HEAD), its
// time and its ref (ref, the --ref input or the checked-out branch). Only publish needs it, so
// validate and detect work on a folder that is not (yet) a commit.
func (s *source) resolveCommit(ctx context.Context, sha, ref string) error {
	if s.git == nil {
		return fmt.Errorf("source %q is not a git checkout (%v): publish takes the commit, its time and the ref from git; in Actions run actions/checkout before this step", s.dir, s.gitErr)
	}
	rev := sha
	if rev == "" {
		rev = "HEAD"
	}
	c, err := s.git.CommitInfo(ctx, rev)
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", rev, err)
	}
	s.sha, s.created = c.SHA, c.Time
	if ref == "" {
		h, err := s.git.Head(ctx)
		if err != nil || h.Branch == "" {
			return fmt.Errorf("the checkout is not on a branch: give the ref being published with --ref refs/heads/BRANCH or --ref refs/tags/TAG")
		}
		ref = "refs/heads/" + h.Branch
	}
	s.ref, err = tags.ParseRef(ref)
	return err
}

// names are the components' names, in discovery order.
func names(comps []component.Component) []string {
	out := make([]string, 0, len(comps))
	for _, c := range comps {
		out = append(out, c.Name)
	}
	return out
}

// pick returns the components named, in discovery order.
func pick(all []component.Component, names []string) []component.Component {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []component.Component
	for _, c := range all {
		if want[c.Name] {
			out = append(out, c)
		}
	}
	return out
}

// displayName names a component in log lines: its name, or "artifact" in single-artifact mode.
func displayName(c component.Component) string {
	if c.Name == "" {
		return "artifact"
	}
	return c.Name
}

// displayDir names a component's folder in errors.
func displayDir(dir string) string {
	if dir == "." {
		return "the checkout"
	}
	return fmt.Sprintf("%q", dir)
}

// groupTitle heads a component's log group: "frontend: pushed".
func groupTitle(c component.Component, res report.Result) string {
	name := c.Name
	if name == "" {
		name = path.Base(c.Dir)
	}
	return fmt.Sprintf("%s: %s", name, res.Status)
}

func shortSHA(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// repoURL is the https URL of a GitHub repository.
func repoURL(server, repo string) string {
	if repo == "" {
		return ""
	}
	if server == "" {
		server = "https://github.com"
	}
	return strings.TrimRight(server, "/") + "/" + repo
}

// prefix is a component's folder relative to the checkout, with a trailing slash, for findings
// and annotations ("components/frontend/").
func prefix(dir string) string {
	if dir == "." || dir == "" {
		return ""
	}
	return path.Clean(filepath.ToSlash(dir)) + "/"
}
