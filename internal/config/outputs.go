package config

// Output is one action output: a value the run hands to later steps and jobs.
type Output struct {
	Name        string
	Description string // markdown, one paragraph: action.yml and the README show it
}

// Outputs is the table of action outputs (DESIGN "The interface"), in the order the run writes
// them and action.yml lists them. action.yml and the README's table are generated from it.
var Outputs = []Output{
	{Name: "result", Description: "JSON array with one entry per component (name, changed, digest, size, tags, signed, verified, error). It keeps to the outputs budget (see Limits): past it, long texts and findings are cut, then entries are left out from the end and a last entry of status `omitted` says how many; `result-file` always holds every entry."},
	{Name: "result-file", Description: "Path of a JSON file holding the complete result (the `result` array, nothing left out), in the runner's temporary folder (`runner.temp`), which is removed after the job: upload it with `actions/upload-artifact` to keep it."},
	{Name: "matrix", Description: "The changed components as a matrix, `{\"component\":[\"a\",\"b\"]}`: give it to a job's `strategy.matrix` through `fromJSON(needs.<job>.outputs.matrix)`. A GitHub matrix starts at most 256 jobs: with more changed components `detect` fails and says so, and `publish` leaves this output out with a warning."},
	{Name: "components", Description: "JSON array of the component names considered (after detection), for example `[\"a\",\"b\"]`."},
	{Name: "any-changed", Description: "`true` if at least one component changed, else `false`: guard the matrix job with it."},
	{Name: "pushed", Description: "`true` if at least one new artifact digest was pushed, else `false`."},
	{Name: "digests", Description: "JSON object mapping each component to its artifact reference by digest (`<repository>/<component>@sha256:…`)."},
	{Name: "verify-snippet", Description: "The `verify:` block to paste into a Flux `OCIRepository` for the artifacts of this run."},
	{Name: "preview", Description: "`validate`: the path of a Markdown file (at most 60,000 characters), in the runner's temporary folder (`runner.temp`) beside `result-file`, never in the checkout, that says per component and overlay which objects the pull request adds, removes or changes, with their diffs as far as they fit: post it as a pull-request comment. When nothing differs it says so (so an updated comment does not go stale); empty when the preview is off."},
}

// OutputNames returns the output names in table order.
func OutputNames() []string {
	names := make([]string, len(Outputs))
	for i, o := range Outputs {
		names[i] = o.Name
	}
	return names
}
