package packaging

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/modfile"
)

func TestParseDockerfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []Instruction
	}{
		{
			name: "comments, blank lines and parser directives are dropped",
			in:   "# syntax=docker/dockerfile:1\n\n# a comment\nFROM alpine:3.23\n",
			want: []Instruction{{Cmd: "FROM", Args: "alpine:3.23", Line: 4}},
		},
		{
			name: "continuations are joined, comments inside them skipped",
			in:   "from a AS b\nRUN apk add \\\n# why\n  git \\\n  ca-certificates\nENTRYPOINT [\"/x\"]\n",
			want: []Instruction{
				{Cmd: "FROM", Args: "a AS b", Line: 1},
				{Cmd: "RUN", Args: "apk add git ca-certificates", Line: 2},
				{Cmd: "ENTRYPOINT", Args: `["/x"]`, Line: 6},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDockerfile(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDockerfile() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShellWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{`CGO_ENABLED=0 go build -ldflags "-s -w" -o "$out" .`, []string{"CGO_ENABLED=0", "go", "build", "-ldflags", "-s -w", "-o", "$out", "."}},
		{`a 'b c'  d`, []string{"a", "b c", "d"}},
		{`x ""`, []string{"x", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ShellWords(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ShellWords() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ShellWords(`a "b`); err == nil {
		t.Error(`ShellWords("a \"b") succeeded, want an unterminated quote error`)
	}
}

func repoStages(t *testing.T) []Stage {
	t.Helper()
	ins, err := ParseDockerfile(bytes.NewReader(readRepoFile(t, "Dockerfile")))
	if err != nil {
		t.Fatal(err)
	}
	stages, err := Stages(ins)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a multi-stage build (builder + final image)", len(stages))
	}
	return stages
}

// pinned: a repository, an exact version tag, and optionally the digest the release pins.
var pinnedImage = regexp.MustCompile(`^([a-z0-9./-]+):([0-9][A-Za-z0-9._-]*)(@sha256:[0-9a-f]{64})?$`)

// TestDockerfileRules holds the Dockerfile to GitHub's rules for docker actions (root user, the
// runner's working directory) and to the image's promise: only the binary, git and CA
// certificates, built from pinned bases.
func TestDockerfileRules(t *testing.T) {
	t.Parallel()
	stages := repoStages(t)
	builder, final := stages[0], stages[len(stages)-1]

	for _, s := range stages {
		m := pinnedImage.FindStringSubmatch(s.Image)
		if m == nil {
			t.Errorf("line %d: base image %q is not pinned to an exact version tag (image:1.2.3[@sha256:…])", s.From.Line, s.Image)
		}
		for _, in := range s.Instructions {
			switch in.Cmd {
			case "USER":
				t.Errorf("line %d: USER: docker actions must run as the default (root) user", in.Line)
			case "WORKDIR":
				t.Errorf("line %d: WORKDIR: the runner sets the working directory to the workspace", in.Line)
			case "ADD":
				t.Errorf("line %d: ADD: use COPY, so nothing is fetched or unpacked implicitly", in.Line)
			}
		}
	}

	if builder.Name != "builder" || !strings.HasPrefix(builder.Image, "golang:") {
		t.Errorf("first stage is %q AS %q, want a golang image AS builder", builder.Image, builder.Name)
	}
	if !strings.HasPrefix(final.Image, "alpine:") {
		t.Errorf("final stage is %q, want alpine (it has git; distroless has none)", final.Image)
	}

	var entrypoint, copies, apk []string
	for _, in := range final.Instructions {
		switch in.Cmd {
		case "ENTRYPOINT":
			args, ok := in.Exec()
			if !ok {
				t.Errorf("line %d: ENTRYPOINT %s is not in exec form: a shell would swallow signals", in.Line, in.Args)
			}
			entrypoint = args
		case "CMD":
			t.Errorf("line %d: CMD: the mode comes from the `command` input, not from image arguments", in.Line)
		case "COPY":
			copies = append(copies, in.Args)
		case "RUN":
			words, err := ShellWords(strings.ReplaceAll(in.Args, "&&", " ; "))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(words); i++ {
				if words[i] == "apk" && words[i+1] == "add" {
					for _, w := range words[i+2:] {
						if w == ";" {
							break
						}
						apk = append(apk, w)
					}
				}
			}
		}
	}
	if diff := cmp.Diff([]string{"/fleetpush"}, entrypoint); diff != "" {
		t.Errorf("final ENTRYPOINT mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"--from=builder /fleetpush /fleetpush"}, copies); diff != "" {
		t.Errorf("final stage COPY mismatch, want only the binary (-want +got):\n%s", diff)
	}
	slices.Sort(apk)
	if diff := cmp.Diff([]string{"--no-cache", "ca-certificates", "git"}, apk); diff != "" {
		t.Errorf("final stage apk add mismatch, want only git and CA certificates without a package cache (-want +got):\n%s", diff)
	}

	build := goBuildIn(t, builder)
	want := []string{"CGO_ENABLED=0", "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", "/fleetpush", "."}
	if diff := cmp.Diff(want, build); diff != "" {
		t.Errorf("builder go build mismatch (-want +got):\n%s", diff)
	}
}

func goBuildIn(t *testing.T, s Stage) []string {
	t.Helper()
	for _, in := range s.Instructions {
		if in.Cmd != "RUN" {
			continue
		}
		if words, ok := GoBuildCommand(in.Args); ok {
			return words
		}
	}
	t.Fatalf("stage %q has no RUN with go build", s.Name)
	return nil
}

// TestBuilderMatchesGoMod keeps the image's Go toolchain the one go.mod asks for, so the image
// and CI (setup-go reads go.mod) build with the same compiler.
func TestBuilderMatchesGoMod(t *testing.T) {
	t.Parallel()
	mf, err := modfile.ParseLax("go.mod", readRepoFile(t, "go.mod"), nil)
	if err != nil {
		t.Fatal(err)
	}
	goVersion := mf.Go.Version
	if mf.Toolchain != nil {
		goVersion = strings.TrimPrefix(mf.Toolchain.Name, "go")
	}
	builder := repoStages(t)[0]
	tag := pinnedImage.FindStringSubmatch(builder.Image)
	if tag == nil {
		t.Fatalf("builder image %q has no version tag", builder.Image)
	}
	if got, want := tag[2], goVersion+"-bookworm"; got != want {
		t.Errorf("builder image tag = %q, want %q (go.mod's Go version)", got, want)
	}
}

// TestBuildCommandsAgree: hack/build.sh is the Docker-less stand-in CI uses to check the shipped
// binary's size, so it must build with exactly the Dockerfile's command; only the output path
// may differ.
func TestBuildCommandsAgree(t *testing.T) {
	t.Parallel()
	docker := goBuildIn(t, repoStages(t)[0])
	var script []string
	for _, line := range strings.Split(string(readRepoFile(t, "hack/build.sh")), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if words, ok := GoBuildCommand(line); ok {
			if script != nil {
				t.Fatal("hack/build.sh has more than one go build command")
			}
			script = words
		}
	}
	if script == nil {
		t.Fatal("hack/build.sh has no go build command")
	}
	if diff := cmp.Diff(withoutOutput(docker), withoutOutput(script)); diff != "" {
		t.Errorf("go build in hack/build.sh differs from the Dockerfile's (-Dockerfile +hack/build.sh):\n%s", diff)
	}
}

func withoutOutput(words []string) []string {
	out := slices.Clone(words)
	if i := slices.Index(out, "-o"); i >= 0 && i+1 < len(out) {
		out[i+1] = "OUTPUT"
	}
	return out
}
