// Package report owns what a run tells its users: a result per component, the text table (stderr)
// and JSON (stdout) of the CLI, and in GitHub Actions the outputs (GITHUB_OUTPUT, with safe
// delimiters for multi-line JSON), the step summary table, `::group::` per component, a progress
// line as each component finishes, and `::error file=…,line=…::` annotations. Outside Actions
// (no GITHUB_OUTPUT) the Actions parts are skipped, never a panic.
package report
