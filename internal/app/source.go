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

func (r *runner) openSource(ctx context.Context) (*source, error) {
	cfg := r.cfg
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

	s.git, s.gitErr = gitdiff.Open(ctx, cfg.Source, gitdiff.WithLogger(func(f string, a ...any) { r.log.Printf("git: "+f, a...) }))
	s.url = repoURL(cfg.GitHub.ServerURL, cfg.GitHub.Repository)
	if s.url == "" && s.git != nil {
		if u, err := s.git.RemoteURL(ctx); err == nil {
			s.url = u
		}
	}
	return s, nil
}

// commit resolves what is being published: the commit, its time and its ref. Only publish needs
// it, so validate and detect work on a folder that is not (yet) a commit.
func (r *runner) commit(ctx context.Context) error {
	s, cfg := r.src, r.cfg
	if s.git == nil {
		return fmt.Errorf("source %q is not a git checkout (%v): publish takes the commit, its time and the ref from git; in Actions run actions/checkout before this step", s.dir, s.gitErr)
	}
	rev := cfg.SHA
	if rev == "" {
		rev = "HEAD"
	}
	c, err := s.git.CommitInfo(ctx, rev)
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", rev, err)
	}
	s.sha, s.created = c.SHA, c.Time
	ref := cfg.Ref
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
