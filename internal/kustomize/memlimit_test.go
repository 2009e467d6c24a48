package kustomize

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// Memory ceilings of the child process that runs the bombs. The validator
// itself (API types, kustomize) needs about 100 MiB; a bomb let through
// grows by gigabytes within a second.
const (
	bombSoftLimit = 384 << 20 // GC works harder past this
	bombHardLimit = 1 << 30   // the watchdog ends the child past this
	bombAddrLimit = 8 << 30   // address space, where the race detector does not need terabytes
	bombChildEnv  = "FLEETPUSH_TEST_BOMB_CHILD"
)

// TestBombsUnderMemoryLimit runs every YAML bomb case in a child process
// (this test binary again) whose memory is capped, so that a regression in
// the guard fails this test instead of exhausting the machine. In the
// child, each bomb must be refused with a finding naming its file, line
// and limit.
func TestBombsUnderMemoryLimit(t *testing.T) {
	if os.Getenv(bombChildEnv) == "1" {
		bombChild(t)
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBombsUnderMemoryLimit$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), bombChildEnv+"=1")
	if *update {
		cmd.Args = append(cmd.Args, "-update")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the bomb cases failed in the memory-limited child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestBombsUnderMemoryLimit") {
		t.Fatalf("the child did not run the bomb cases:\n%s", out)
	}
}

func bombChild(t *testing.T) {
	debug.SetMemoryLimit(bombSoftLimit)
	if !raceEnabled {
		lim := &syscall.Rlimit{Cur: bombAddrLimit, Max: bombAddrLimit}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, lim); err != nil {
			t.Fatalf("limiting the address space: %v", err)
		}
	}
	stop := watchMemory(bombHardLimit)
	defer stop()
	for _, name := range hostileCases(t) {
		if strings.HasPrefix(name, "bomb-") {
			t.Run(name, func(t *testing.T) { checkHostile(t, name) })
		}
	}
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range bombCases() {
		t.Run(name, func(t *testing.T) {
			got, err := v.Validate(context.Background(), tc.files, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			for _, f := range got {
				msgs = append(msgs, f.Severity.String()+" "+f.String())
			}
			if len(msgs) != 1 || msgs[0] != tc.want {
				t.Errorf("findings:\n%s\nwant only:\n%s", strings.Join(msgs, "\n"), tc.want)
			}
		})
	}
}

type bombCase struct {
	files fstest.MapFS
	want  string
}

// laughs is a billion laughs: 9^9 (387 million) copies of "lol" in 9 lines,
// each line indented by indent.
func laughs(indent string) string {
	var b strings.Builder
	b.WriteString(indent + `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	prev := "a"
	for _, c := range "bcdefghi" {
		refs := strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",")
		fmt.Fprintf(&b, "%s%c: &%c [%s]\n", indent, c, c, refs)
		prev = string(c)
	}
	return b.String()
}

func bombCases() map[string]bombCase {
	nodes := "refused: YAML bomb: its aliases expand to more than 100000 nodes beyond the text (the limit); write the repeated parts out instead of aliasing them"
	long := strings.Repeat("x", 64<<10)
	return map[string]bombCase{
		// A file no kustomization lists, of any name: a plugin
		// configuration could still make kustomize read it.
		"unlisted file": {
			files: fstest.MapFS{"notes": file("# not YAML by name\n" + laughs(""))},
			want:  "error notes:3: " + nodes,
		},
		// Few nodes, but each alias copies a long string in full.
		"long strings": {
			files: fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\n"),
				"cm.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: &a " + long + "\n  b: [" + strings.TrimSuffix(strings.Repeat("*a,", 100), ",") + "]\n")},
			want: "error cm.yaml:7: refused: YAML bomb: its aliases expand to more than 4194304 bytes beyond the text (the limit); write the repeated parts out instead of aliasing them",
		},
		// kyaml would copy a cycle until the stack overflows.
		"alias cycle": {
			files: fstest.MapFS{"cycle.yaml": file("a: &a\n  b: *a\n")},
			want:  "error cycle.yaml:2: refused: YAML bomb: its aliases nest deeper than 500 levels (the limit), or an anchor contains an alias of itself",
		},
		// Inline objects in a transformers entry, one line long.
		"inline transformer": {
			files: fstest.MapFS{"kustomization.yaml": file(kustHeader + "transformers:\n  - \"{apiVersion: builtin, kind: LabelTransformer, metadata: {name: l}, labels: {a: &a [x,x,x,x,x,x,x,x,x,x], b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c], e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d], f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]}}\"\n")},
			want:  "error kustomization.yaml:4: refused: in a string that kustomize may parse: " + strings.TrimPrefix(nodes, "refused: "),
		},
		// Three levels: a patch inside an inline transformer
		// configuration inside the kustomization.
		"patch in an inline transformer": {
			files: fstest.MapFS{"kustomization.yaml": file(kustHeader + "transformers:\n  - |\n" +
				"    apiVersion: builtin\n    kind: PatchTransformer\n    metadata:\n      name: p\n    target:\n      kind: ConfigMap\n    patch: |\n" +
				"      apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: c\n      data:\n" + laughs("        "))},
			want: "error kustomization.yaml:18: refused: in a string that kustomize may parse: " + strings.TrimPrefix(nodes, "refused: "),
		},
		// A ConfigMap value that a replacement would parse as
		// structured data.
		"string in a resource": {
			files: fstest.MapFS{"cm.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  config.yaml: |\n" + laughs("    "))},
			want:  "error cm.yaml:8: refused: in a string that kustomize may parse: " + strings.TrimPrefix(nodes, "refused: "),
		},
		// Past the depth kyaml's recursive walkers are trusted with.
		"deep nesting": {
			files: fstest.MapFS{"deep.yaml": file("a: " + strings.Repeat("[", 600) + strings.Repeat("]", 600) + "\n")},
			want:  "error deep.yaml:1: refused: nested deeper than 500 levels (the limit)",
		},
	}
}

// watchMemory ends the process when the memory the Go runtime holds goes
// past limit. It polls rather than relies on the soft limit alone, which
// only makes the collector work harder.
func watchMemory(limit uint64) (stop func()) {
	done := make(chan struct{})
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				metrics.Read(sample)
				if used := sample[0].Value.Uint64(); used > limit {
					fmt.Fprintf(os.Stderr, "memory limit exceeded: %d bytes in use, more than %d\n", used, limit)
					os.Exit(3)
				}
			}
		}
	}()
	return func() { close(done) }
}
