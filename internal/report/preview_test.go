package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/preview"
)

var previewKey = preview.WithKey([]byte("golden"))

func obj(t testing.TB, v map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func deployment(t testing.TB, ns, name, image string, replicas int) []byte {
	return obj(t, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"replicas": replicas, "template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": image}}}}}})
}

func configMap(t testing.TB, ns, name string, data map[string]any) []byte {
	return obj(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name, "namespace": ns}, "data": data})
}

// previewResults is a pull request that changes an image in staging, replicas in production,
// adds and removes an object, and edits a Secret; one component is unchanged, one is new and one
// could not be read.
func previewResults(t testing.TB) []Result {
	secret := func(v string) []byte {
		return obj(t, map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds", "namespace": "web"}, "stringData": map[string]any{"password": v}})
	}
	old := preview.Side{
		"base":       {deployment(t, "web", "frontend", "ghcr.io/acme/frontend:1.2.3", 1), configMap(t, "web", "old", map[string]any{"a": "1"}), secret("s3cr3t-old")},
		"staging":    {deployment(t, "web", "frontend", "ghcr.io/acme/frontend:1.2.3", 1)},
		"production": {deployment(t, "web", "frontend", "ghcr.io/acme/frontend:1.2.3", 2)},
	}
	new := preview.Side{
		"base":       {deployment(t, "web", "frontend", "ghcr.io/acme/frontend:1.2.3", 1), configMap(t, "web", "new", map[string]any{"b": "2"}), secret("s3cr3t-new")},
		"staging":    {deployment(t, "web", "frontend", "ghcr.io/acme/frontend:1.3.0", 1)},
		"production": {deployment(t, "web", "frontend", "ghcr.io/acme/frontend:1.2.3", 3)},
	}
	files := func(extra string) map[string][]byte {
		return map[string][]byte{"base/kustomization.yaml": []byte("x"), extra: []byte("y")}
	}
	same := preview.Side{"base": {configMap(t, "", "c", map[string]any{"k": "v"})}}
	return []Result{
		{Component: "frontend", Status: Valid, Preview: &Preview{Against: "registry.example/acme/apps/frontend:latest", Published: true,
			Component: preview.Compare(old, new, files("base/old.yaml"), files("base/new.yaml"), previewKey)}},
		{Component: "cache", Status: Valid, Preview: &Preview{Against: "registry.example/acme/apps/cache:latest", Published: true,
			Component: preview.Compare(same, same, nil, nil, previewKey)}},
		{Component: "metrics", Status: Valid, Preview: &Preview{Against: "registry.example/acme/apps/metrics:latest",
			Component: preview.Compare(nil, same, nil, map[string][]byte{"base/cm.yaml": []byte("z")}, previewKey)}},
		{Component: "private", Status: Valid, Preview: &Preview{Against: "registry.example/acme/apps/private:latest",
			Warning: "reading registry.example/acme/apps/private:latest: UNAUTHORIZED: the pull request's token cannot read it"}},
	}
}

func TestPreviewGolden(t *testing.T) {
	t.Parallel()
	rs := previewResults(t)
	md := PreviewMarkdown(rs, CommentPreviewBudget)
	golden(t, "preview.md", md)
	var text bytes.Buffer
	if err := WritePreviewText(&text, rs); err != nil {
		t.Fatal(err)
	}
	golden(t, "preview.txt", text.String())
	for _, s := range []string{md, text.String()} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("a Secret value leaks:\n%s", s)
		}
		if strings.Contains(s, "cache") {
			t.Errorf("an unchanged component is listed:\n%s", s)
		}
	}
	checkPreviewMarkdown(t, md, diffsOf(rs))
}

func diffsOf(rs []Result) []string {
	var out []string
	for _, r := range rs {
		if r.Preview == nil {
			continue
		}
		for _, o := range r.Preview.Overlays {
			for _, c := range o.Changes {
				if c.Diff != "" {
					out = append(out, c.Diff)
				}
			}
		}
	}
	return out
}

func TestPreviewNothingDiffers(t *testing.T) {
	t.Parallel()
	same := preview.Side{"base": {configMap(t, "", "c", nil)}}
	rs := []Result{{Component: "a", Preview: &Preview{Published: true, Component: preview.Compare(same, same, nil, nil)}}, {Component: "b"}}
	if md := PreviewMarkdown(rs, CommentPreviewBudget); md != "" {
		t.Errorf("PreviewMarkdown = %q, want nothing", md)
	}
	var text bytes.Buffer
	if err := WritePreviewText(&text, rs); err != nil || text.Len() != 0 {
		t.Errorf("WritePreviewText = %q, %v, want nothing", text.String(), err)
	}
}

// TestPreviewBudgets: huge diffs and many components stay within each sink's budget, every
// component that fits keeps its counts, and a line says what was left out.
func TestPreviewBudgets(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 2000)
	var old, new [][]byte
	for i := range 400 {
		old = append(old, configMap(t, "ns", fmt.Sprintf("cm-%03d", i), map[string]any{"v": big + "a"}))
		new = append(new, configMap(t, "ns", fmt.Sprintf("cm-%03d", i), map[string]any{"v": big + "b"}))
	}
	huge := preview.Compare(preview.Side{"production": old}, preview.Side{"production": new}, nil, nil, previewKey)
	small := preview.Compare(nil, preview.Side{"base": {configMap(t, "", "c", nil)}}, nil, nil, previewKey)
	var many []Result
	for i := range 3000 {
		many = append(many, Result{Component: fmt.Sprintf("component-%04d", i), Preview: &Preview{Against: "r/x:latest", Component: small}})
	}
	tests := []struct {
		name   string
		rs     []Result
		budget int
		want   string
	}{
		{"huge diffs in a comment", []Result{{Component: "a", Preview: &Preview{Published: true, Component: huge}}, {Component: "b", Preview: &Preview{Component: small}}}, CommentPreviewBudget, "object diff(s) left out"},
		{"huge diffs in the summary", []Result{{Component: "a", Preview: &Preview{Published: true, Component: huge}}}, SummaryPreviewBudget, "object diff(s) left out"},
		{"many components in a comment", many, CommentPreviewBudget, "more component(s) differ"},
		{"many components in the summary", many, SummaryPreviewBudget, "more component(s) differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := PreviewMarkdown(tt.rs, tt.budget)
			if len(md) > tt.budget {
				t.Errorf("%d bytes, more than the budget of %d", len(md), tt.budget)
			}
			if !strings.Contains(md, tt.want) {
				t.Errorf("no line says %q", tt.want)
			}
			if !strings.Contains(md, "#### a") && !strings.Contains(md, "component\\-0000") {
				t.Error("the first component is missing")
			}
			if tt.rs[0].Component == "a" && !strings.Contains(md, "400 changed") {
				t.Error("the counts of a component with diffs left out are missing")
			}
			checkPreviewMarkdown(t, md, nil)
		})
	}
}

// hostile is text a pull request author or a registry controls, made to break out of every sink.
const hostile = "x`` ```\n</details><script>alert(1)</script>\r\n::error::pwned\n##[warning]w | [l](http://e) ![i](u) # h\u2028::set-output name=a::b"

func TestPreviewHostile(t *testing.T) {
	t.Parallel()
	bad := func(s string) string { return strings.ReplaceAll(s, "\n", "-") } // names are one line in YAML
	o := preview.Side{hostile: {configMap(t, bad(hostile), bad(hostile), map[string]any{"k": hostile}), deployment(t, "n", bad(hostile), "img:"+bad(hostile), 1)}}
	n := preview.Side{hostile: {configMap(t, bad(hostile), bad(hostile), map[string]any{"k": hostile + "2"}), deployment(t, "n", bad(hostile), "img:2"+bad(hostile), 1)}}
	rs := []Result{
		{Component: hostile, Preview: &Preview{Against: hostile, Published: true,
			Component: preview.Compare(o, n, map[string][]byte{hostile: []byte("a")}, map[string][]byte{hostile: []byte("b")}, previewKey)}},
		{Component: "warned", Preview: &Preview{Against: hostile, Warning: hostile}},
	}
	for _, budget := range []int{CommentPreviewBudget, SummaryPreviewBudget} {
		md := PreviewMarkdown(rs, budget)
		checkPreviewMarkdown(t, md, diffsOf(rs))
	}
	var text bytes.Buffer
	if err := WritePreviewText(&text, rs); err != nil {
		t.Fatal(err)
	}
	// A name is one line of the log: its line breaks are escaped, so it cannot forge a line.
	if strings.Contains(text.String(), "\n</details><script>") {
		t.Errorf("a hostile name broke a text line:\n%s", text.String())
	}
	for i, line := range strings.Split(strings.ReplaceAll(text.String(), "\r", "\n"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "::") || strings.Contains(line, "##[") || strings.ContainsAny(line, "\u2028") {
			t.Errorf("text line %d could start a workflow command: %q", i+1, line)
		}
	}
	js, err := json.Marshal(rs)
	if err != nil || !json.Valid(js) {
		t.Errorf("the JSON result: %v", err)
	}
}

// checkPreviewMarkdown reads md as GitHub does: the code blocks hold exactly the diffs, and
// outside them nothing is HTML but the preview's own details and summary tags, nor a link, an
// image, a heading other than the preview's, or a workflow command.
func checkPreviewMarkdown(t testing.TB, md string, diffs []string) {
	t.Helper()
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(md, "\r\n", "\n"), "\r", "\n"), "\n")
	var got []string
	fence := ""
	var block []string
	for i, line := range lines {
		if fence != "" {
			trimmed := strings.TrimLeft(line, " ")
			if len(line)-len(trimmed) <= 3 && strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "` \t") == "" {
				got = append(got, strings.Join(block, "\n"))
				fence, block = "", nil
				continue
			}
			block = append(block, line)
			continue
		}
		if m := openFence.FindStringSubmatch(line); m != nil {
			fence = m[1]
			continue
		}
		if strings.HasPrefix(strings.TrimLeft(line, " "), "#") && !strings.HasPrefix(line, "### What this") && !strings.HasPrefix(line, "#### ") {
			t.Errorf("line %d is a heading: %q", i+1, line)
		}
		if setextLine.MatchString(line) {
			t.Errorf("line %d underlines a heading: %q", i+1, line)
		}
		if strings.HasPrefix(strings.TrimSpace(line), "::") { // harmless in markdown, but a sign of a broken line
			t.Errorf("line %d starts like a workflow command: %q", i+1, line)
		}
		rest := line
		for _, tag := range []string{"<details><summary>", "</summary>", "</details>"} {
			rest = strings.Replace(rest, tag, "", 1)
		}
		if bad := activeOutsideCode(rest); bad != "" {
			t.Errorf("line %d holds %s outside code: %q", i+1, bad, line)
		}
	}
	if fence != "" {
		t.Errorf("a code block is never closed")
	}
	if diffs == nil {
		return
	}
	var want []string
	for _, d := range diffs {
		want = append(want, strings.TrimRight(d, "\n"))
	}
	if len(want) != len(got) {
		t.Errorf("%d code blocks, want %d", len(got), len(want))
		return
	}
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("code block %d:\n%s\nwant:\n%s", i, got[i], want[i])
		}
	}
}

// TestPreviewResultShrinks: in the result output (which shares the outputs' budget) a preview
// keeps its counts and at most resultPreviewChanges object changes; the original is untouched.
func TestPreviewResultShrinks(t *testing.T) {
	t.Parallel()
	var old, new [][]byte
	for i := range 1000 {
		old = append(old, configMap(t, "ns", fmt.Sprintf("cm-%04d", i), map[string]any{"v": "a"}))
		new = append(new, configMap(t, "ns", fmt.Sprintf("cm-%04d", i), map[string]any{"v": "b"}))
	}
	p := &Preview{Published: true, Component: preview.Compare(preview.Side{"a": old, "b": old}, preview.Side{"a": new, "b": new}, nil, nil, previewKey)}
	got := shrink(Result{Component: "x", Preview: p}).Preview
	n := 0
	for _, o := range got.Overlays {
		n += len(o.Changes)
		if o.Changed != 1000 {
			t.Errorf("%s: changed %d, want the count kept", o.Dir, o.Changed)
		}
	}
	if n != resultPreviewChanges {
		t.Errorf("%d changes kept, want %d", n, resultPreviewChanges)
	}
	if len(p.Overlays[0].Changes) != 1000 {
		t.Error("shrink changed the original")
	}
	if out := ResultJSON([]Result{{Component: "x", Preview: p}}, 256<<10); !strings.Contains(out, `"changed":1000`) {
		t.Errorf("the result output lost the preview's counts: %.300s", out)
	}
}
