package kustomize

import (
	"fmt"
	"sync/atomic"
)

// The defaults of the budgets (see Limits). A run decodes every file of
// every component it validates and kustomize copies every object several
// times while it builds, so the bounds are on what a whole run and a
// whole build cost, not on one file: many small inputs reach them as
// surely as one large one.
const (
	// DefaultMaxYAMLNodes bounds the YAML nodes a run decodes, counting
	// the copies its aliases make (kustomize copies them). A node costs
	// about 200 bytes once decoded, so this is about 2 GiB over the run;
	// a platform repository's components hold a few hundred thousand.
	DefaultMaxYAMLNodes int64 = 10_000_000
	// DefaultMaxYAMLBytes bounds the bytes of YAML a run decodes, with
	// what copying aliases adds. It is charged before a file is decoded,
	// so decoding stops before the memory is spent. Five times the
	// largest artifact (max-size) leaves room for many components.
	DefaultMaxYAMLBytes int64 = 512 << 20
	// DefaultMaxObjects bounds the objects one kustomize build renders.
	// kustomize checks every object it adds against all before it, so a
	// build's time grows with the square of its objects: 10,000 take
	// minutes. Large platform overlays render a few thousand.
	DefaultMaxObjects int64 = 10_000
	// DefaultMaxRenderedBytes bounds the bytes (as JSON) one kustomize
	// build renders. kustomize holds each object as a node tree of about
	// ten times its text; the largest CRD bundles are tens of megabytes.
	DefaultMaxRenderedBytes int64 = 64 << 20
)

// Limits are the bounds of a Budget; a field <= 0 takes its default.
type Limits struct {
	YAMLNodes     int64 // nodes decoded over the run (max-yaml-nodes)
	YAMLBytes     int64 // bytes decoded over the run (max-yaml-size)
	Objects       int64 // objects one kustomize build renders (max-objects)
	RenderedBytes int64 // bytes one kustomize build renders (max-rendered-size)
}

func (l Limits) withDefaults() Limits {
	set := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&l.YAMLNodes, DefaultMaxYAMLNodes)
	set(&l.YAMLBytes, DefaultMaxYAMLBytes)
	set(&l.Objects, DefaultMaxObjects)
	set(&l.RenderedBytes, DefaultMaxRenderedBytes)
	return l
}

// Budget is what validation may spend over one run: the YAML decoded from
// every file of every component (shared by the workers that validate
// components at once), and what each kustomize build may render. Create
// one a run and hand it to every Validate call in Options.Budget. It is
// safe for concurrent use.
type Budget struct {
	limits       Limits
	nodes, bytes atomic.Int64
}

// NewBudget returns a run's budget with the given limits.
func NewBudget(l Limits) *Budget { return &Budget{limits: l.withDefaults()} }

// Limits returns the budget's bounds, defaults filled in.
func (b *Budget) Limits() Limits { return b.limits }

// budgetError says which budget a component's input went over.
type budgetError struct {
	component string // "" when validation was not told
	what      string // what went over, e.g. "decoded YAML"
	limit     int64
	unit      string
	input     string // the input that raises it
	scope     string // "this run" or "one kustomize build"
	detail    string
}

func (e *budgetError) Error() string {
	c := ""
	if e.component != "" {
		c = fmt.Sprintf("component %q: ", e.component)
	}
	d := ""
	if e.detail != "" {
		d = " (" + e.detail + ")"
	}
	return fmt.Sprintf("%s%s goes over the budget of %d %s for %s%s: raise the %s input if this is intended, or split the work", c, e.what, e.limit, e.unit, e.scope, d, e.input)
}

// chargeBytes takes n bytes of YAML from the run's budget, before they are
// decoded.
func (b *Budget) chargeBytes(component string, n int64) error {
	if b.bytes.Add(n) > b.limits.YAMLBytes {
		return &budgetError{component: component, what: "the YAML validation decodes", limit: b.limits.YAMLBytes, unit: "bytes",
			input: "max-yaml-size", scope: "this run (all files of all components, aliases copied)"}
	}
	return nil
}

// chargeNodes takes n decoded nodes from the run's budget.
func (b *Budget) chargeNodes(component string, n int64) error {
	if b.nodes.Add(n) > b.limits.YAMLNodes {
		return &budgetError{component: component, what: "the YAML validation decodes", limit: b.limits.YAMLNodes, unit: "nodes",
			input: "max-yaml-nodes", scope: "this run (all files of all components, aliases copied)"}
	}
	return nil
}

// checkBuild refuses a build that renders (or, estimated before it runs,
// would render) more than a build's budget allows.
func (b *Budget) checkBuild(component string, estimated bool, objects, bytes int64, detail string) error {
	verb := "rendering"
	if estimated {
		verb = "rendering an estimated"
	}
	switch {
	case objects > b.limits.Objects:
		return &budgetError{component: component, what: fmt.Sprintf("%s %s objects", verb, count(objects)), limit: b.limits.Objects, unit: "objects",
			input: "max-objects", scope: "one kustomize build", detail: detail}
	case bytes > b.limits.RenderedBytes:
		return &budgetError{component: component, what: fmt.Sprintf("%s %s bytes", verb, count(bytes)), limit: b.limits.RenderedBytes, unit: "bytes",
			input: "max-rendered-size", scope: "one kustomize build", detail: detail}
	}
	return nil
}

// count prints a saturated sum as what it means.
func count(n int64) string {
	if n >= saturated {
		return "more than 2^50"
	}
	return fmt.Sprint(n)
}
