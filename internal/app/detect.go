package app

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"

	"github.com/fleetpush/fleetpush/internal/gitdiff"
	"github.com/fleetpush/fleetpush/internal/report"
)

// detection is which components changed, or that every one is a candidate and why.
type detection struct {
	Changed []string // component names; single-artifact mode uses ""
	All     bool
	Reason  string
}

// detector runs change detection over the discovered components: for the detect mode, and as
// publish's pre-filter on branch pushes.
type detector struct {
	all        bool   // the all input: skip detection
	base, head string // explicit range inputs, over the event's
	ref        string // the ref input, for a push event that names none
	event      gitdiff.Event
	src        *source
	mainBranch string
	log        *report.Log
}

// detect returns the changed components. When git cannot decide it says so and returns every
// component, never "nothing changed".
func (d *detector) detect(ctx context.Context) detection {
	src := d.src
	everything := func(reason string) detection {
		det := detection{All: true, Reason: reason}
		for _, c := range src.components {
			det.Changed = append(det.Changed, c.Name)
		}
		return det
	}
	if d.all {
		return everything("all is set: every component is a candidate")
	}
	if src.git == nil {
		return everything(fmt.Sprintf("the source is not a git checkout (%v): every component is a candidate", src.gitErr))
	}
	rng, err := d.event.Range()
	if err != nil {
		if d.event.Err != nil {
			// The runner wrote a payload this run cannot read: worth a warning, not a failure.
			d.log.Warning("%v; change detection treats every component as a candidate", err)
		}
		return everything(fmt.Sprintf("%v: every component is a candidate", err))
	}
	if d.base != "" {
		rng = gitdiff.Range{Base: d.base, Head: d.head}
	} else if d.head != "" {
		rng.Head = d.head
	}
	if rng.Ref == "" {
		rng.Ref = d.ref
	}
	res, err := src.git.Changed(ctx, rng, d.mainBranch)
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

// detectMode prints the changed components as a matrix for strategy.matrix and a plain list, and
// sets the matrix, components and any-changed outputs. An empty set is valid output.
type detectMode struct {
	out    *reporter
	detect *detector
	single bool
}

func (m *detectMode) run(ctx context.Context) (int, error) {
	log := m.out.log
	d := m.detect.detect(ctx)
	log.Printf("detect: %s", d.Reason)
	names := d.Changed
	if m.single && len(names) == 1 && names[0] == "" {
		names = []string{"."}
	}
	matrix, list := gitdiff.Matrix(names)
	if m.out.json {
		out := struct {
			Matrix     json.RawMessage `json:"matrix"`
			Components json.RawMessage `json:"components"`
			AnyChanged bool            `json:"anyChanged"`
			All        bool            `json:"all"`
			Reason     string          `json:"reason"`
		}{json.RawMessage(matrix), json.RawMessage(list), len(names) > 0, d.All, log.Redact(d.Reason)}
		// The reason can quote git's output: the same protections as the results' JSON.
		if err := report.EncodeJSON(m.out.stdout, out, ""); err != nil {
			return ExitFailed, err
		}
	} else {
		fmt.Fprintln(m.out.stdout, matrix)
		fmt.Fprintln(m.out.stdout, list)
	}
	if !log.Actions() {
		if _, err := matrixOutput(names); err != nil {
			// Printed whole all the same: outside Actions it may feed something else.
			log.Warning("%v", err)
		}
	}
	if log.Actions() {
		outputs := map[string]string{
			"components":  list,
			"any-changed": fmt.Sprint(len(names) > 0),
		}
		// A matrix GitHub refuses would fail the next job with a less clear word: fail here.
		matrixErr := error(nil)
		if m, err := matrixOutput(names); err != nil {
			matrixErr = err
		} else {
			outputs["matrix"] = m
		}
		omitted, err := log.SetOutputs(outputs, outputOrder)
		if err != nil {
			return ExitFailed, err
		}
		doc := report.NewSummary(log.SummaryBudget())
		report.DetectSummary(doc, log.Redact(d.Reason), list)
		if err := log.Summary(doc); err != nil {
			return ExitFailed, err
		}
		if matrixErr != nil {
			return ExitFailed, matrixErr
		}
		if slices.Contains(omitted, "matrix") {
			return ExitFailed, fmt.Errorf("the matrix of %d changed components is larger than the outputs budget (%d KiB): publish them from one job instead (a publish step without components publishes every changed component)",
				len(names), report.OutputsBudget>>10)
		}
	}
	return ExitOK, nil
}
