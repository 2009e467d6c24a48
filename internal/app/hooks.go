package app

import (
	"encoding/json"
	"fmt"

	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/fleetpush/fleetpush/internal/gitdiff"
	"github.com/fleetpush/fleetpush/internal/report"
)

// outputOrder is the order outputs are written in (action.yml's, generated from the same table).
var outputOrder = config.OutputNames()

// actionsReport writes the outputs and the step summary when running in Actions.
func (r *runner) actionsReport(results []report.Result, title string) error {
	if !r.log.Actions() {
		return nil
	}
	compact, err := json.Marshal(nonNil(results))
	if err != nil {
		return err
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
	matrix, _ := gitdiff.Matrix(changed)
	_, list := gitdiff.Matrix(names)
	dj, _ := json.Marshal(digests)
	outputs := map[string]string{
		"result":      string(compact),
		"matrix":      matrix,
		"components":  list,
		"any-changed": fmt.Sprint(len(changed) > 0),
		"pushed":      fmt.Sprint(pushed),
		"digests":     string(dj),
	}
	if r.snippet != "" {
		outputs["verify-snippet"] = r.snippet
	}
	if err := r.log.SetOutputs(outputs, outputOrder); err != nil {
		return err
	}
	return r.log.Summary(report.SummaryMarkdown(title, results, r.snippet))
}

func nonNil(rs []report.Result) []report.Result {
	if rs == nil {
		return []report.Result{}
	}
	return rs
}
