package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/fleetpush/fleetpush/internal/gitdiff"
	"github.com/fleetpush/fleetpush/internal/report"
)

// outputOrder is the order outputs are written in (action.yml's, generated from the same table).
var outputOrder = config.OutputNames()

// reporter runs a mode's work over the components and reports the results: the progress lines,
// the text or JSON result, and in Actions the outputs and the step summary.
type reporter struct {
	log    *report.Log
	stdout io.Writer
	json   bool // --output json: the results go to stdout
	jobs   int  // components worked on at once
	now    func() time.Time
	// commentFile: in Actions, for validate and a dry run, the preview also goes to a comment
	// file that the preview output names.
	commentFile bool
	// summary writes the step summary's report in place of the publish table (prune's); nil
	// for report.SummaryMarkdown.
	summary func(doc *report.Cut, title string, results []report.Result)
}

// forEach runs fn for every component, jobs at a time, printing a progress line as each
// finishes. A failure of one component never stops the others.
func (r *reporter) forEach(ctx context.Context, comps []component.Component, fn func(context.Context, component.Component) report.Result) []report.Result {
	return r.forEachN(ctx, comps, r.jobs, fn)
}

// forEachN is forEach with n components at a time.
func (r *reporter) forEachN(ctx context.Context, comps []component.Component, n int, fn func(context.Context, component.Component) report.Result) []report.Result {
	results := make([]report.Result, len(comps))
	sem := make(chan struct{}, max(1, n))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i, c := range comps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := r.now()
			res := fn(ctx, c)
			res.Component = c.Name
			// Errors can quote what a server said; no secret leaves through the results.
			res.Error = r.log.Redact(res.Error)
			for i, f := range res.Findings {
				res.Findings[i] = r.log.Redact(f)
			}
			for i, s := range res.Skipped {
				res.Skipped[i] = r.log.Redact(s)
			}
			res.Duration = report.Duration(r.now().Sub(start))
			results[i] = res
			mu.Lock()
			done++
			r.log.Progress(done, len(comps), res)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}

// finish writes the report and returns the exit code. snippet is the verify block of the run's
// signer, "" when there is none.
func (r *reporter) finish(results []report.Result, title, snippet string) (int, error) {
	report.Sort(results)
	var err error
	if r.json {
		err = report.WriteJSON(r.stdout, results)
	} else {
		err = report.WriteText(r.log.Writer(), results)
		if e := report.WritePreviewText(r.log.Writer(), results); e != nil && err == nil {
			err = e
		}
	}
	if e := r.actionsReport(results, title, snippet); e != nil && err == nil {
		err = e
	}
	if report.AnyFailed(results) {
		return ExitFailed, err
	}
	return ExitOK, err
}

// actionsReport writes the outputs, the result file and the step summary when running in
// Actions. Each sink keeps to its budget (report's budget.go); the result file holds everything.
func (r *reporter) actionsReport(results []report.Result, title, snippet string) error {
	if !r.log.Actions() {
		return nil
	}
	var names, changed []string
	digests := map[string]string{}
	pushed := false
	for _, res := range results {
		names = append(names, res.Component)
		if res.Changed {
			changed = append(changed, res.Component)
		}
		if res.Status == report.Pushed {
			pushed = true
		}
		if res.Digest != "" && res.Repository != "" {
			digests[res.Component] = res.Repository + "@" + res.Digest
		}
	}
	_, list := gitdiff.Matrix(names)
	dj, _ := json.Marshal(digests)
	outputs := map[string]string{
		"components":  list,
		"any-changed": fmt.Sprint(len(changed) > 0),
		"pushed":      fmt.Sprint(pushed),
		"digests":     string(dj),
	}
	if matrix, err := matrixOutput(changed); err != nil {
		// The components are published already: the run goes on without a matrix.
		r.log.Warning("the matrix output is left out: %v", err)
	} else {
		outputs["matrix"] = matrix
	}
	if snippet != "" {
		outputs["verify-snippet"] = snippet
	}
	var errs []error
	previewed := report.PreviewMarkdown(results, report.CommentPreviewBudget)
	if previewed != "" || report.Previewed(results) {
		if previewed == "" {
			previewed = report.PreviewNothing
		}
		if r.commentFile {
			p, err := r.log.PreviewFile(previewed)
			if err != nil {
				r.log.Warning("%v", err) // the preview never fails the run
			} else {
				outputs["preview"] = p
			}
		}
	}
	file, err := r.log.ResultFile(results)
	if err != nil {
		errs = append(errs, err)
	} else {
		outputs["result-file"] = file
	}
	// The small outputs first; the result takes what they leave of the budget.
	if _, err := r.log.SetOutputs(outputs, outputOrder); err != nil {
		errs = append(errs, err)
	}
	result := report.ResultJSON(results, r.log.OutputRoom("result"))
	if _, err := r.log.SetOutputs(map[string]string{"result": result}, outputOrder); err != nil {
		errs = append(errs, err)
	}
	budget := r.log.SummaryBudget()
	doc := report.NewSummary(budget)
	if r.summary != nil {
		r.summary(doc, title, results)
	} else {
		report.SummaryMarkdown(doc, title, results, snippet)
	}
	if previewed != "" {
		// The preview draws on the run's one summary budget, after the table and findings.
		room := min(report.SummaryPreviewBudget, budget.Left()-previewReserve)
		if md := report.PreviewMarkdown(results, room); md != "" {
			doc.Add("\n" + md)
		}
	}
	if err := r.log.Summary(doc); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// matrixOutput is the matrix output for the named components, or why GitHub would refuse it.
func matrixOutput(names []string) (string, error) {
	if len(names) > report.MatrixJobs {
		return "", fmt.Errorf("%d components changed, more than the %d jobs one GitHub matrix may start: publish them from one job instead (a publish step without components publishes every changed component, concurrency at a time), or split the repository's components between workflows (components-dir)",
			len(names), report.MatrixJobs)
	}
	matrix, _ := gitdiff.Matrix(names)
	return matrix, nil
}

// previewReserve is the room of the summary kept for the trailers of its cut sections.
const previewReserve = 1 << 10

func nonNil(rs []report.Result) []report.Result {
	if rs == nil {
		return []report.Result{}
	}
	return rs
}

// group collects a component's log lines, printed as one group when it finishes, so that the
// lines of concurrent components do not interleave.
type group struct{ lines []string }

func (g *group) logf(format string, args ...any) {
	g.lines = append(g.lines, fmt.Sprintf(format, args...))
}
