package preview

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"go.yaml.in/yaml/v3"
)

// Action is what happens to an object, or a file, when the pull request is published.
type Action string

// Actions.
const (
	Added   Action = "added"
	Removed Action = "removed"
	Changed Action = "changed"
)

// Defaults of the bounds of one Compare.
const (
	// DefaultMaxDiffLines bounds the lines of one object's normalised YAML that are diffed line by
	// line: difflib's matcher grows faster than linearly, and a reviewer reads no diff that long.
	// A larger object is reported as changed with no diff.
	DefaultMaxDiffLines = 5000
	// DefaultMaxDiffBytes bounds the diff text kept for one component. The sinks keep far less
	// (a comment holds 60,000 characters); past it, changes are counted and listed without diffs.
	DefaultMaxDiffBytes = 4 << 20
)

// Side is what one side rendered: the objects of each kustomization folder of the artifact,
// keyed by the folder ("." for the root, "staging", "apps/production"), each object as JSON.
type Side map[string][][]byte

// Object names one rendered object.
type Object struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String is Kind/name, or Kind/namespace/name.
func (o Object) String() string {
	if o.Namespace != "" {
		return o.Kind + "/" + o.Namespace + "/" + o.Name
	}
	return o.Kind + "/" + o.Name
}

func (o Object) key() string {
	return o.Group + "\x00" + o.Kind + "\x00" + o.Namespace + "\x00" + o.Name
}

// Change is one object added, removed or changed in an overlay.
type Change struct {
	Object
	Action Action `json:"action"`
	// Diff is the unified diff of the normalised, redacted YAML (for an added or removed object,
	// all of it as + or - lines); "" when it was left out, and Omitted says why.
	Diff string `json:"-"`
	// Omitted says why Diff is empty: the object is too large to diff, or the component's diff
	// budget is spent.
	Omitted string `json:"-"`
}

// Note is a one-line summary of a change reviewers look for first: an image, a replica count
// or a chart version.
type Note struct {
	Object Object `json:"object"`
	What   string `json:"what"`   // "image", "replicas" or "chart"
	Target string `json:"target"` // the image repository or chart; "" for replicas
	From   string `json:"from"`   // "" when there was none
	To     string `json:"to"`     // "" when there is none
}

// Overlay is the comparison of one kustomization folder.
type Overlay struct {
	Dir       string   `json:"overlay"`
	Added     int      `json:"added"`
	Removed   int      `json:"removed"`
	Changed   int      `json:"changed"`
	Unchanged int      `json:"unchanged"`
	Changes   []Change `json:"changes,omitempty"`
	Notes     []Note   `json:"notes,omitempty"`
}

// Different reports whether anything in the overlay changes.
func (o *Overlay) Different() bool { return o.Added+o.Removed+o.Changed > 0 }

// File is a file of the artifact added, removed or changed.
type File struct {
	Path   string `json:"path"`
	Action Action `json:"action"`
}

// Component is the comparison of one component.
type Component struct {
	Overlays []Overlay `json:"overlays,omitempty"`
	Files    []File    `json:"files,omitempty"`
}

// Different reports whether anything in the component changes.
func (c *Component) Different() bool {
	if len(c.Files) > 0 {
		return true
	}
	for i := range c.Overlays {
		if c.Overlays[i].Different() {
			return true
		}
	}
	return false
}

// Option configures Compare.
type Option func(*comparer)

// WithKey sets the key of the redaction hash, for reproducible output (tests, golden files).
func WithKey(key []byte) Option { return func(c *comparer) { c.key = key } }

// WithMaxDiffLines sets DefaultMaxDiffLines; n <= 0 keeps the default.
func WithMaxDiffLines(n int) Option {
	return func(c *comparer) {
		if n > 0 {
			c.maxLines = n
		}
	}
}

// WithMaxDiffBytes sets DefaultMaxDiffBytes; n <= 0 keeps the default.
func WithMaxDiffBytes(n int) Option {
	return func(c *comparer) {
		if n > 0 {
			c.budget = n
		}
	}
}

type comparer struct {
	key      []byte
	maxLines int
	budget   int // diff bytes left
}

// Compare compares what the registry serves (old) with what the pull request renders (new), and
// the files of both artifacts (path → content; nil when the side has none). An object that does
// not decode is compared as its raw bytes, redacted whole if it names a Secret.
func Compare(old, new Side, oldFiles, newFiles map[string][]byte, opts ...Option) Component {
	c := &comparer{maxLines: DefaultMaxDiffLines, budget: DefaultMaxDiffBytes}
	for _, o := range opts {
		o(c)
	}
	if c.key == nil {
		c.key = make([]byte, 32)
		_, _ = rand.Read(c.key) // never fails (crypto/rand panics rather)
	}
	var out Component
	for _, dir := range unionKeys(old, new) {
		out.Overlays = append(out.Overlays, c.overlay(dir, old[dir], new[dir]))
	}
	out.Files = Files(oldFiles, newFiles)
	return out
}

// Files lists the files added, removed and changed, by path.
func Files(old, new map[string][]byte) []File {
	var out []File
	for _, p := range unionKeys(old, new) {
		o, inOld := old[p]
		n, inNew := new[p]
		switch {
		case !inOld:
			out = append(out, File{Path: p, Action: Added})
		case !inNew:
			out = append(out, File{Path: p, Action: Removed})
		case !bytes.Equal(o, n):
			out = append(out, File{Path: p, Action: Changed})
		}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// rendered is one object, normalised and redacted. Only its canonical JSON is kept, not the
// decoded form nor its YAML: a large overlay holds thousands of objects per side, most of them
// unchanged, and the few shown are decoded again from canon (which decodes to the same values).
type rendered struct {
	id    Object
	canon string // JSON with sorted keys: what equality compares
	shown string // when the object has no JSON form (it did not decode): its text, a hash
	// obj is kept for the rare object with a float: 1e6 as a float reads back from canon as the
	// integer 1000000, which YAML writes otherwise.
	obj map[string]any
}

// object decodes the normalised object again; nil when it has no JSON form.
func (r *rendered) object() map[string]any {
	if r.obj != nil || r.shown != "" {
		return r.obj
	}
	obj, _ := decode([]byte(r.canon))
	numbers(obj)
	return obj
}

// text is the object's normalised YAML (obj is r.object(), decoded once by the caller).
func (r *rendered) text(obj map[string]any) string {
	if r.shown != "" {
		return r.shown
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if obj == nil || enc.Encode(obj) != nil {
		return r.canon + "\n"
	}
	_ = enc.Close()
	return b.String()
}

func (c *comparer) index(objs [][]byte) (map[string]*rendered, []string) {
	m := make(map[string]*rendered, len(objs))
	var order []string
	for _, raw := range objs {
		r := c.normalise(raw)
		k := r.id.key()
		if _, dup := m[k]; !dup {
			order = append(order, k)
		}
		m[k] = r // a duplicate (validation refuses it) compares as the last one
	}
	return m, order
}

func (c *comparer) overlay(dir string, old, new [][]byte) Overlay {
	ov := Overlay{Dir: dir}
	om, _ := c.index(old)
	nm, _ := c.index(new)
	keys := unionKeys(om, nm)
	slices.SortFunc(keys, func(a, b string) int { return compareIDs(idOf(om, nm, a), idOf(om, nm, b)) })
	for _, k := range keys {
		o, n := om[k], nm[k]
		switch {
		case o == nil:
			ov.Added++
			ov.Changes = append(ov.Changes, c.change(n.id, Added, "", n.text(n.object())))
		case n == nil:
			ov.Removed++
			ov.Changes = append(ov.Changes, c.change(o.id, Removed, o.text(o.object()), ""))
		case o.canon == n.canon:
			ov.Unchanged++
		default:
			ov.Changed++
			oo, no := o.object(), n.object()
			ov.Changes = append(ov.Changes, c.change(n.id, Changed, o.text(oo), n.text(no)))
			ov.Notes = append(ov.Notes, notes(n.id, oo, no)...)
		}
	}
	ov.Notes = append(ov.Notes, chartRefNotes(om, nm)...)
	return ov
}

func idOf(a, b map[string]*rendered, k string) Object {
	if r := a[k]; r != nil {
		return r.id
	}
	return b[k].id
}

// compareIDs orders objects as a reviewer reads them: by kind, namespace, name, then group.
func compareIDs(a, b Object) int {
	for _, p := range [][2]string{{a.Kind, b.Kind}, {a.Namespace, b.Namespace}, {a.Name, b.Name}, {a.Group, b.Group}} {
		if c := strings.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	return 0
}

func (c *comparer) change(id Object, a Action, from, to string) Change {
	ch := Change{Object: id, Action: a}
	n := max(strings.Count(from, "\n"), strings.Count(to, "\n"))
	if n > c.maxLines {
		ch.Omitted = fmt.Sprintf("%d lines of YAML, more than the %d diffed", n, c.maxLines)
		return ch
	}
	if c.budget <= 0 {
		ch.Omitted = "the diff budget of the component is spent"
		return ch
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(from), B: lines(to),
		FromFile: "published", ToFile: "pull request", Context: 3,
	})
	if err != nil { // only a failed write to its own buffer
		ch.Omitted = err.Error()
		return ch
	}
	if len(d) > c.budget {
		ch.Omitted = "the diff budget of the component is spent"
		c.budget = 0
		return ch
	}
	c.budget -= len(d)
	ch.Diff = d
	return ch
}

// lines splits text into lines that each end in "\n", the last one too: difflib writes a line
// as it is, so a last line without one would run into the next line of the diff ("-a+b").
// (difflib's SplitLines adds an empty last line to text that ends in one.)
func lines(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.SplitAfter(s, "\n")
	if last := len(out) - 1; out[last] == "" {
		out = out[:last]
	} else {
		out[last] += "\n"
	}
	return out
}

// normalise decodes an object, drops what is not desired state, redacts what must not be
// shown and writes it as YAML with sorted keys.
func (c *comparer) normalise(raw []byte) *rendered {
	obj, err := decode(raw)
	if err != nil || obj == nil {
		// Not an object: compare the bytes, hashed, since nothing says what they hold.
		h := c.hash(string(raw))
		return &rendered{id: Object{Kind: "(undecodable)", Name: h}, canon: h, shown: h + "\n"}
	}
	id := identify(obj)
	delete(obj, "status")
	if md, ok := obj["metadata"].(map[string]any); ok {
		// Set by the API server; a rendered manifest carries it as null when it carries it at all.
		if md["creationTimestamp"] == nil {
			delete(md, "creationTimestamp")
		}
	}
	c.redact(obj, id)
	numbers(obj)
	canon, err := json.Marshal(obj) // map keys sorted: one text per content
	if err != nil {
		h := c.hash(string(raw))
		return &rendered{id: id, canon: h, shown: h + "\n"}
	}
	r := &rendered{id: id, canon: string(canon)}
	if hasFloat(obj) {
		r.obj = obj
	}
	return r
}

func hasFloat(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			if hasFloat(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasFloat(e) {
				return true
			}
		}
	case float64:
		return true
	}
	return false
}

// decode decodes one JSON object, its numbers as json.Number (numbers then writes them one way).
// canon decodes, through numbers, to the values it was written from: they were int64, float64
// or strings already, and json.Marshal writes each so that it reads back as the same.
func decode(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func identify(obj map[string]any) Object {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	group := ""
	if g, _, ok := strings.Cut(apiVersion, "/"); ok {
		group = g
	}
	return Object{Group: group, Kind: kind, Namespace: ns, Name: name}
}

// redact replaces, in place, the Secret values and the SOPS-encrypted strings of obj.
func (c *comparer) redact(obj map[string]any, id Object) {
	if id.Group == "" && id.Kind == "Secret" {
		for _, field := range []string{"data", "stringData"} {
			switch m := obj[field].(type) {
			case map[string]any:
				for k, v := range m {
					m[k] = c.hashValue(v)
				}
			case nil:
			default: // not a map: validation refuses it, but it still must not show
				obj[field] = c.hashValue(m)
			}
		}
	}
	// Every string SOPS encrypted, wherever it is: in a Secret, a ConfigMap, the sops block.
	walkStrings(obj, func(s string) (string, bool) {
		if strings.HasPrefix(s, "ENC[") && strings.HasSuffix(s, "]") {
			return c.hash(s), true
		}
		return s, false
	})
}

func walkStrings(v any, fn func(string) (string, bool)) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if s, ok := e.(string); ok {
				if r, ok := fn(s); ok {
					t[k] = r
				}
				continue
			}
			walkStrings(e, fn)
		}
	case []any:
		for i, e := range t {
			if s, ok := e.(string); ok {
				if r, ok := fn(s); ok {
					t[i] = r
				}
				continue
			}
			walkStrings(e, fn)
		}
	}
}

func (c *comparer) hashValue(v any) string {
	b, _ := json.Marshal(v)
	return c.hash(string(b))
}

// hash is the redacted form of a value: a keyed hash, short enough to read, long enough that
// two different values almost never share it.
func (c *comparer) hash(s string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(s))
	return "redacted:" + hex.EncodeToString(m.Sum(nil)[:6])
}

// numbers turns json.Number into int64 or float64, so YAML writes 3 rather than "3".
func numbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = numbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbers(e)
		}
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(string(t), 64); err == nil {
			return f
		}
		return string(t)
	}
	return v
}
