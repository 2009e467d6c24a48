package kustomize

import (
	"cmp"
	"fmt"
	"slices"
)

// Severity says whether a finding fails validation.
type Severity int

const (
	// Error findings fail validation: the component must not be published.
	Error Severity = iota
	// Notice findings are information only (for example a kind that has no
	// schema and so was not checked).
	Notice
)

// String returns "error" or "notice".
func (s Severity) String() string {
	if s == Notice {
		return "notice"
	}
	return "error"
}

// Finding is one problem found in an artifact.
type Finding struct {
	// File is the path of the file relative to the repository root
	// (Options.Prefix followed by the path inside the artifact).
	File string
	// Line is the 1-based line in File, or 0 when it is not known.
	Line     int
	Severity Severity
	Message  string
}

// String formats the finding as "path:line: message", or "path: message"
// when the line is not known.
func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Message)
	}
	return fmt.Sprintf("%s: %s", f.File, f.Message)
}

// HasErrors reports whether any finding has severity Error.
func HasErrors(findings []Finding) bool {
	return slices.ContainsFunc(findings, func(f Finding) bool { return f.Severity == Error })
}

func sortFindings(fs []Finding) []Finding {
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Severity, b.Severity), cmp.Compare(a.Message, b.Message))
	})
	return slices.Compact(fs)
}
