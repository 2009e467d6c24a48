package report

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"
)

// Every sink a run writes to has a budget of the whole run, enforced here and nowhere else: a
// pull request with thousands of findings or huge names must not make GitHub drop the step
// summary (over 1 MiB it keeps none of it), refuse the job's outputs (1 MB a job) or bury the
// annotations that matter. Past a budget a sink says how much it left out, and the complete
// result stays in the result file (ResultFile).
const (
	// SummaryBudget is what one run appends to the step summary, all sections together (the
	// results, the detect report, a pull-request preview). GitHub drops the WHOLE summary of a
	// step past 1 MiB, and the file is the step's, not fleetpush's: a CLI run shares it with the
	// other commands of its `run:` step, and the preview draws on the same budget. Half leaves
	// them room; the run also never writes past what the file already holds allows (summaryCap).
	SummaryBudget = 512 << 10
	// summaryCap is GitHub's limit on one step's summary.
	summaryCap = 1 << 20
	// OutputsBudget is what one run writes to GITHUB_OUTPUT, every output together, in UTF-8
	// bytes. GitHub allows 1 MB of outputs a job and measures them as UTF-16, which is at most
	// twice the UTF-8 size: 256 KiB of UTF-8 is at most half the job's allowance, the other
	// half is for the job's other steps.
	OutputsBudget = 256 << 10
	// AnnotationsPerKind is how many annotations of one kind (error, warning, notice) a run
	// writes: GitHub shows 10 of each kind a step and drops the rest. The last one is kept for
	// the line that says how many more there were.
	AnnotationsPerKind = 10
	// LogLineBudget is the longest log line, after escaping: a server reply or a generated
	// name is cut, not a runner log line of megabytes.
	LogLineBudget = 8 << 10
	// GroupBudget is the most one `::group::` (one component's log lines) holds.
	GroupBudget = 256 << 10
	// AnnotationBudget is the longest annotation message after escaping.
	AnnotationBudget = 4 << 10
	// MatrixJobs is the most jobs one GitHub matrix may start: a larger matrix is refused.
	MatrixJobs = 256
)

// Budget is the allowance of one sink for a whole run, in bytes (or any unit its users agree
// on). Sections (Cut) take from it as they write; it is safe for concurrent use.
type Budget struct {
	mu   sync.Mutex
	left int
}

// NewBudget returns a budget of n.
func NewBudget(n int) *Budget { return &Budget{left: max(0, n)} }

// Left is what is not yet taken.
func (b *Budget) Left() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}

// take takes n if that much is left, all or nothing.
func (b *Budget) take(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n < 0 || n > b.left {
		return false
	}
	b.left -= n
	return true
}

// give returns n unused.
func (b *Budget) give(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left += n
}

// Cut is a budgeted writer for one section of a sink: it takes whole units (a table row, a
// line of a code block, a whole code block) or none, so a cut never falls inside an escape, a
// rune, a row or a fence, and it keeps room for its trailer from the start, so the trailer
// (the "N more not shown" line, a closing fence) always fits. After the first unit that does
// not fit every later one is left out too: what is shown is a prefix, and the trailer counts
// the rest.
//
// A section made with Cut.Section draws on the same budget and lands inside its parent when
// closed; a section that could not show anything counts as one unit left out of its parent.
type Cut struct {
	budget   *Budget
	parent   *Cut
	trailer  func(omitted int) string
	reserved int // held for the trailer
	limit    int // the most this section may hold, trailer included; 0: the budget's
	buf      strings.Builder
	units    int
	omitted  int
	full     bool
	closed   bool
}

// Section starts a section with trailer, called once at Close with the count of units left out
// (it may return "" when none were). limit caps the section on top of the budget (0: none).
func (b *Budget) Section(limit int, trailer func(omitted int) string) *Cut {
	return open(b, nil, limit, trailer)
}

// Section starts a section inside c: its text lands in c when it closes.
func (c *Cut) Section(limit int, trailer func(omitted int) string) *Cut {
	return open(c.budget, c, limit, trailer)
}

func open(b *Budget, parent *Cut, limit int, trailer func(int) string) *Cut {
	if trailer == nil {
		trailer = func(int) string { return "" }
	}
	c := &Cut{budget: b, parent: parent, trailer: trailer, limit: limit}
	// The longest trailer is the one with the largest count.
	need := len(trailer(math.MaxInt))
	if (parent != nil && parent.full) || (limit > 0 && need > limit) || !b.take(need) {
		c.full = true // nothing fits: every unit is left out, the parent counts the section
		return c
	}
	c.reserved = need
	return c
}

// Add writes unit whole if it fits, and reports whether it did.
func (c *Cut) Add(unit string) bool {
	if c.closed {
		panic("report: Add on a closed section")
	}
	if c.full || (c.limit > 0 && c.buf.Len()+len(unit)+c.reserved > c.limit) || !c.budget.take(len(unit)) {
		c.full = true
		c.omitted++
		return false
	}
	c.buf.WriteString(unit)
	c.units++
	return true
}

// Omit counts n units left out without offering them (the caller knows they cannot be shown).
func (c *Cut) Omit(n int) { c.omitted += n }

// Full reports whether a unit was refused: every later one will be.
func (c *Cut) Full() bool { return c.full }

// Close writes the trailer and returns the section's text; a section inside another is written
// into it instead, and "" is returned. A section that showed nothing writes nothing, not even its
// trailer: its parent counts it as left out. The unused part of the trailer's room is given back.
func (c *Cut) Close() string {
	if c.closed {
		return ""
	}
	c.closed = true
	text := ""
	if c.units > 0 {
		t := c.trailer(c.omitted)
		if len(t) > c.reserved { // a trailer longer than its longest form: keep the promise
			t = ""
		}
		c.budget.give(c.reserved - len(t))
		c.buf.WriteString(t)
		text = c.buf.String()
	} else {
		c.budget.give(c.reserved)
	}
	if c.parent == nil {
		return text
	}
	if text == "" {
		if c.omitted > 0 {
			c.parent.omitted++
		}
		return ""
	}
	c.parent.buf.WriteString(text)
	c.parent.units++
	return ""
}

// clip returns esc(s) whole when it is at most limit bytes, else esc of the longest prefix of s
// (whole runes) whose escape, with a note of how much was left out, fits in limit. Cutting the
// raw text and escaping the cut keeps every escape sequence whole.
func clip(s string, limit int, esc func(string) string) string {
	if e := esc(s); len(e) <= limit {
		return e
	}
	n := len(s)
	for {
		// Shrink in proportion to how far over the escaped text is, then to a rune boundary.
		prefix := s[:runeStart(s, n)]
		note := fmt.Sprintf("… (%d more bytes not shown)", len(s)-len(prefix))
		e := esc(prefix) + note
		if len(e) <= limit || prefix == "" {
			if len(e) > limit {
				return ""
			}
			return e
		}
		n = min(len(prefix)-1, len(prefix)*limit/len(e))
	}
}

// runeStart is the largest index <= n that starts a rune of s (or is len(s)).
func runeStart(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	if n <= 0 {
		return 0
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// plural is "1 component" or "2 components".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
