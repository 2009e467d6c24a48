package app

import (
	"context"
	"encoding/json"
	"fmt"
	"path"

	"github.com/fleetpush/fleetpush/internal/gitdiff"
	"github.com/fleetpush/fleetpush/internal/report"
)

// detection is which components changed, or that every one is a candidate and why.
type detection struct {
	Changed []string // component names; single-artifact mode uses ""
	All     bool
	Reason  string
}

// detect runs change detection over the discovered components. When git cannot decide it says so
// and returns every component, never "nothing changed".
func (r *runner) detect(ctx context.Context) detection {
	src, cfg := r.src, r.cfg
	everything := func(reason string) detection {
		d := detection{All: true, Reason: reason}
		for _, c := range src.components {
			d.Changed = append(d.Changed, c.Name)
		}
		return d
	}
	if cfg.All {
		return everything("all is set: every component is a candidate")
	}
	if src.git == nil {
		return everything(fmt.Sprintf("the source is not a git checkout (%v): every component is a candidate", src.gitErr))
	}
	rng, _, err := gitdiff.RangeFromEvent(cfg.GitHub.EventName, r.readEvent())
	if err != nil {
		return everything(fmt.Sprintf("reading the event payload: %v: every component is a candidate", err))
	}
	if cfg.Base != "" {
		rng = gitdiff.Range{Base: cfg.Base, Head: cfg.Head}
	} else if cfg.Head != "" {
		rng.Head = cfg.Head
	}
	if rng.Ref == "" {
		rng.Ref = cfg.Ref
	}
	// The main-branch input, else the event's default branch (read once, by config), else main.
	res, err := src.git.Changed(ctx, rng, r.policy().MainBranch)
	if err != nil {
		return everything(fmt.Sprintf("change detection failed: %v: every component is a candidate", err))
	}
	if res.All {
		return everything(res.Reason)
	}
	roots := map[string]string{}
	for _, c := range src.components {
		roots[c.Name] = path.Join(src.git.Prefix(), c.Dir)
	}
	return detection{Changed: gitdiff.Affected(res.Paths, roots), Reason: fmt.Sprintf("%d changed file(s) between %s and %s", len(res.Paths), shortSHA(res.Base), shortSHA(res.Head))}
}

// detectCmd prints the changed components as a matrix for strategy.matrix and a plain list, and
// sets the matrix, components and any-changed outputs. An empty set is valid output.
func (r *runner) detectCmd(ctx context.Context) (int, error) {
	d := r.detect(ctx)
	r.log.Printf("detect: %s", d.Reason)
	names := d.Changed
	if r.cfg.Single() && len(names) == 1 && names[0] == "" {
		names = []string{"."}
	}
	matrix, list := gitdiff.Matrix(names)
	if r.cfg.Output == "json" {
		out := struct {
			Matrix     json.RawMessage `json:"matrix"`
			Components json.RawMessage `json:"components"`
			AnyChanged bool            `json:"anyChanged"`
			All        bool            `json:"all"`
			Reason     string          `json:"reason"`
		}{json.RawMessage(matrix), json.RawMessage(list), len(names) > 0, d.All, d.Reason}
		enc := json.NewEncoder(r.stdout)
		if err := enc.Encode(out); err != nil {
			return ExitFailed, err
		}
	} else {
		fmt.Fprintln(r.stdout, matrix)
		fmt.Fprintln(r.stdout, list)
	}
	if r.log.Actions() {
		if err := r.log.SetOutputs(map[string]string{
			"matrix":      matrix,
			"components":  list,
			"any-changed": fmt.Sprint(len(names) > 0),
		}, outputOrder); err != nil {
			return ExitFailed, err
		}
		if err := r.log.Summary(fmt.Sprintf("### fleetpush detect\n\n%s\n\nChanged: %s\n", report.MarkdownText(d.Reason), report.MarkdownCode(list))); err != nil {
			return ExitFailed, err
		}
	}
	return ExitOK, nil
}
