// Package report owns what a run tells its users: a result per component, the text table (stderr)
// and JSON (stdout) of the CLI, and in GitHub Actions the outputs (GITHUB_OUTPUT, with safe
// delimiters for multi-line JSON), the step summary table, `::group::` per component, a progress
// line as each component finishes, and `::error file=…,line=…::` annotations. Outside Actions
// (no GITHUB_OUTPUT) the Actions parts are skipped, never a panic.
//
// Every text from the repository, the event or a server is hostile, and is escaped for the sink
// it reaches (escape.go): a log line keeps to one line and cannot start a workflow command
// ("::" at the start of a line, "##[" anywhere), an annotation's message and file are escaped as
// the runner expects, JSON on stdout hides "##[", and the step summary renders content as text or
// code only, never as markdown or HTML. Secrets are masked for the runner (::add-mask::) and
// redacted here, with the encoded forms they take in a server's reply (MaskCredential).
//
// Every sink also has a budget of the whole run (budget.go), enforced here rather than by
// callers: the step summary (SummaryBudget, shared by every section a run writes, so a
// pull-request preview draws on the same one through NewSummary and Log.Summary), the outputs
// (OutputsBudget; ResultJSON shrinks the result to what is left), the annotations of each kind,
// a log line and a group. A Cut takes whole units and keeps room for its trailer, so a cut never
// falls inside an escape, a rune, a table row or a code fence, and always says how much it left
// out; the result file (ResultFile) and stdout keep everything.
package report
