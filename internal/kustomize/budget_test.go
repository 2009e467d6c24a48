package kustomize

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
)

const budgetChildEnv = "FLEETPUSH_TEST_BUDGET_CHILD"

// TestBudgetsUnderMemoryLimit runs attacks that no single file makes: many
// small files, and kustomize fan-out of plain objects, in a child process
// (this test binary again) whose memory is capped as for the YAML bombs.
// Each must be refused, with the default budgets, by an error that names
// the component, the budget and the input that raises it; before the
// budgets, each took gigabytes.
func TestBudgetsUnderMemoryLimit(t *testing.T) {
	if os.Getenv(budgetChildEnv) == "1" {
		budgetChild(t)
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBudgetsUnderMemoryLimit$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), budgetChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the attacks failed in the memory-limited child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestBudgetsUnderMemoryLimit") {
		t.Fatalf("the child did not run the attacks:\n%s", out)
	}
}

func budgetChild(t *testing.T) {
	debug.SetMemoryLimit(bombSoftLimit)
	if !raceEnabled {
		lim := &syscall.Rlimit{Cur: bombAddrLimit, Max: bombAddrLimit}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, lim); err != nil {
			t.Fatalf("limiting the address space: %v", err)
		}
	}
	stop := watchMemory(bombHardLimit)
	defer stop()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range budgetAttacks() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Validate(context.Background(), tc.files, Options{Prefix: "components/web/", Component: "web", Budget: NewBudget(tc.limits)})
			if err != nil {
				t.Fatal(err)
			}
			checkBudgetFinding(t, got, tc.want...)
			debug.FreeOSMemory()
		})
	}
}

// checkBudgetFinding asserts that every error of got is a budget's, naming
// the component and the input that raises it, and that one of them holds
// every want.
func checkBudgetFinding(t *testing.T, got []Finding, want ...string) {
	t.Helper()
	var errs []string
	for _, f := range got {
		if f.Severity == Error {
			errs = append(errs, f.String())
		}
	}
	if len(errs) == 0 {
		t.Fatal("no error: the attack was let through")
	}
	found := false
	for _, e := range errs {
		if !strings.Contains(e, `component "web"`) || !strings.Contains(e, "raise the ") {
			t.Errorf("error %q names neither the component nor the input that raises its budget", e)
		}
		all := true
		for _, w := range want {
			all = all && strings.Contains(e, w)
		}
		found = found || all
	}
	if !found {
		t.Errorf("no error holds all of %q:\n%s", want, strings.Join(errs, "\n"))
	}
}

type budgetAttack struct {
	name  string
	files fstest.MapFS
	want  []string // substrings of one error
	// limits, when set, replace the defaults: they keep the builds below
	// the refused one cheap (each build under a budget may cost up to it),
	// while the attack, let through, would still take gigabytes.
	limits Limits
}

// aliasFile is a ConfigMap whose aliases copy into about 90,000 nodes: under
// the guard's limit for one input.
func aliasFile(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\n  annotations:\n    a: &a [x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x]\n    b: &b [", i)
	b.WriteString(strings.TrimSuffix(strings.Repeat("*a,", 30), ","))
	b.WriteString("]\n    c: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("*b,", 95), ","))
	b.WriteString("]\n")
	return b.String()
}

// bigConfigMap is a plain object of about n KiB, no alias.
func bigConfigMap(name string, n int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  blob: %s\n", name, strings.Repeat("x", n<<10))
}

// fanOut makes a chain of depth levels over base/: each level lists width
// folders that each include the level below with their own name prefix,
// so the top renders width^depth copies of base's objects.
func fanOut(fs fstest.MapFS, depth, width int) string {
	below := "base"
	for l := 1; l <= depth; l++ {
		lvl := fmt.Sprintf("l%d", l)
		var refs []string
		for w := range width {
			d := fmt.Sprintf("%s/x%d", lvl, w)
			fs[d+"/kustomization.yaml"] = file(kustHeader + fmt.Sprintf("namePrefix: l%dx%d-\nresources: [../../%s]\n", l, w, below))
			refs = append(refs, fmt.Sprintf("x%d", w))
		}
		fs[lvl+"/kustomization.yaml"] = file(kustHeader + "resources: [" + strings.Join(refs, ", ") + "]\n")
		below = lvl
	}
	return below
}

func budgetAttacks() []budgetAttack {
	var out []budgetAttack

	// Many small files, each under the guard's alias limit: 120 of them
	// pass 10 million decoded nodes over the run.
	many := fstest.MapFS{}
	var names []string
	for i := range 120 {
		n := fmt.Sprintf("cm%03d.yaml", i)
		many[n] = file(aliasFile(i))
		names = append(names, n)
	}
	many["kustomization.yaml"] = file(kustHeader + "resources: [" + strings.Join(names, ", ") + "]\n")
	out = append(out, budgetAttack{name: "many small alias files over the run", files: many, want: []string{"max-yaml-nodes", "nodes for this run"}})

	// Fewer of them, under the run's budget: one build would copy 6
	// million nodes, which the estimate refuses before kustomize runs.
	some := fstest.MapFS{}
	names = nil
	for i := range 70 {
		n := fmt.Sprintf("cm%03d.yaml", i)
		some[n] = file(aliasFile(i))
		names = append(names, n)
	}
	some["kustomization.yaml"] = file(kustHeader + "resources: [" + strings.Join(names, ", ") + "]\n")
	out = append(out, budgetAttack{name: "alias files under the run, over a build", files: some, want: []string{"max-rendered-size", "estimated", "kustomization.yaml"}})

	// Deep fan-out of one plain 64 KiB object, no alias: 2^12 = 4,096
	// copies, 256 MiB as JSON and gigabytes in kustomize. Every level past
	// 2 MiB is refused before it is built.
	deep := fstest.MapFS{"base/kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\n"), "base/cm.yaml": file(bigConfigMap("c", 64))}
	top := fanOut(deep, 12, 2)
	out = append(out, budgetAttack{name: "deep fan-out", files: deep, want: []string{"max-rendered-size", top + "/kustomization.yaml"},
		limits: Limits{RenderedBytes: 2 << 20}})

	// Wide fan-out: one overlay lists 60 folders that each include a
	// base of 50 small objects: 3,000 objects.
	wide := fstest.MapFS{"base/kustomization.yaml": file(kustHeader + "resources: [cms.yaml]\n")}
	var cms strings.Builder
	for i := range 50 {
		fmt.Fprintf(&cms, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\n", i)
	}
	wide["base/cms.yaml"] = file(cms.String())
	fanOut(wide, 1, 60)
	out = append(out, budgetAttack{name: "wide fan-out", files: wide, want: []string{"max-objects", "rendering an estimated 3000 objects", "l1/kustomization.yaml"},
		limits: Limits{Objects: 2000}})

	// The same folder included many times over, through components: each
	// component adds its resources to every kustomization that uses it.
	comps := fstest.MapFS{"base/kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\n"), "base/cm.yaml": file(bigConfigMap("c", 4096))}
	var cs []string
	for i := range 20 {
		d := fmt.Sprintf("comp%d", i)
		comps[d+"/kustomization.yaml"] = file("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamePrefix: p" + fmt.Sprint(i) + "-\nresources: [../base]\n")
		cs = append(cs, "../"+d)
	}
	comps["app/kustomization.yaml"] = file(kustHeader + "components: [" + strings.Join(cs, ", ") + "]\n")
	out = append(out, budgetAttack{name: "components multiplying", files: comps, want: []string{"max-rendered-size", "app/kustomization.yaml"}})

	// A patch that selects every object by kind grows each of them.
	var objs strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&objs, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\n", i)
	}
	patched := fstest.MapFS{
		"cms.yaml":           file(objs.String()),
		"patch.yaml":         file(bigConfigMap("any", 32)),
		"kustomization.yaml": file(kustHeader + "resources: [cms.yaml]\npatches:\n  - path: patch.yaml\n    target:\n      kind: ConfigMap\n"),
	}
	out = append(out, budgetAttack{name: "patch over every object", files: patched, want: []string{"max-rendered-size"}})

	// A JSON patch whose copies double the object each time.
	var ops strings.Builder
	ops.WriteString("- op: add\n  path: /data/a0\n  value: " + strings.Repeat("y", 1024) + "\n")
	for i := range 40 {
		fmt.Fprintf(&ops, "- op: copy\n  from: /data\n  path: /data/a%d\n", i+1)
	}
	copies := fstest.MapFS{
		"cm.yaml":            file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {}\n"),
		"ops.yaml":           file(ops.String()),
		"kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\npatches:\n  - path: ops.yaml\n    target:\n      kind: ConfigMap\n      name: c\n"),
	}
	out = append(out, budgetAttack{name: "json patch copies", files: copies, want: []string{"max-rendered-size"}})

	// A generator that names one 1 MiB file under 100 keys.
	var keys []string
	for i := range 100 {
		keys = append(keys, fmt.Sprintf("k%d=blob.txt", i))
	}
	gen := fstest.MapFS{
		"blob.txt":           file(strings.Repeat("z", 1<<20)),
		"kustomization.yaml": file(kustHeader + "configMapGenerator:\n  - name: g\n    files: [" + strings.Join(keys, ", ") + "]\n"),
	}
	out = append(out, budgetAttack{name: "configMapGenerator multiplying a file", files: gen, want: []string{"max-rendered-size"}})
	return out
}

// TestBudgetSharedByComponents validates many components at once, as a run
// does, each under the budget and all together over it: the components
// validated after the budget ran out fail with its error, no more pass than
// the budget holds.
func TestBudgetSharedByComponents(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	comp := fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [deploy.yaml]\n"), "deploy.yaml": file(deployment)}
	one, err := v.Validate(context.Background(), comp, Options{})
	if err != nil || HasErrors(one) {
		t.Fatalf("one component: %v %v", one, err)
	}
	probe := NewBudget(Limits{})
	if _, err := v.Validate(context.Background(), comp, Options{Budget: probe}); err != nil {
		t.Fatal(err)
	}
	perComponent := probe.nodes.Load()
	// Room for 10 components of the 16.
	budget := NewBudget(Limits{YAMLNodes: perComponent*10 + perComponent/2})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		passed   int
		refusals []string
	)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := v.Validate(context.Background(), comp, Options{Budget: budget, Component: fmt.Sprintf("c%d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if !HasErrors(got) {
				passed++
				return
			}
			for _, f := range got {
				refusals = append(refusals, f.String())
			}
		}()
	}
	wg.Wait()
	// Which ones pass depends on how their files' charges interleave; how
	// many can pass does not.
	if passed > 10 || passed+len(refusals) != 16 {
		t.Fatalf("passed %d, refused %d: want at most 10 passed, and one error each for the others:\n%s", passed, len(refusals), strings.Join(refusals, "\n"))
	}
	for _, r := range refusals {
		if !strings.Contains(r, "max-yaml-nodes") || !strings.Contains(r, `component "c`) {
			t.Errorf("refusal %q names neither the budget's input nor the component", r)
		}
	}
}

// TestBuildBudgets holds the build budgets at their edges, with small
// limits, in-process: under the limit a build runs, over it the build is
// refused before kustomize runs, naming the kustomization.
func TestBuildBudgets(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	wide := func(n int) fstest.MapFS {
		fs := fstest.MapFS{"base/kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\n"), "base/cm.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")}
		fanOut(fs, 1, n)
		return fs
	}
	tests := []struct {
		name   string
		files  fstest.MapFS
		limits Limits
		want   string // "" for no error
	}{
		{"fan-out at the limit", wide(20), Limits{Objects: 20}, ""},
		{"fan-out one over", wide(21), Limits{Objects: 20}, "l1/kustomization.yaml:1: component \"web\": rendering an estimated 21 objects goes over the budget of 20 objects for one kustomize build (estimated before building; most of them from resources \"x0\", 1 objects): raise the max-objects input if this is intended, or split the work"},
		{"nested fan-out", func() fstest.MapFS {
			fs := fstest.MapFS{"base/kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\n"), "base/cm.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")}
			fanOut(fs, 3, 3)
			return fs
		}(), Limits{Objects: 26}, "l3/kustomization.yaml:1: component \"web\": rendering an estimated 27 objects"},
		{"run bytes", wide(2), Limits{YAMLBytes: 100}, "max-yaml-size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Validate(context.Background(), tt.files, Options{Prefix: "components/web/", Component: "web", Budget: NewBudget(tt.limits)})
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			for _, f := range got {
				if f.Severity == Error {
					errs = append(errs, f.String())
				}
			}
			switch {
			case tt.want == "" && len(errs) > 0:
				t.Fatalf("want no error, got:\n%s", strings.Join(errs, "\n"))
			case tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0], tt.want)):
				t.Fatalf("errors:\n%s\nwant one holding:\n%s", strings.Join(errs, "\n"), tt.want)
			}
		})
	}
}
