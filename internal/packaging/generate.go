package packaging

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/fleetpush/fleetpush/internal/config"
)

// The files the generator owns, relative to the module root.
const (
	ActionFile = "action.yml"
	ReadmeFile = "README.md"
)

// The README lines between which the generator writes the inputs and outputs tables.
const (
	ReadmeBegin = "<!-- BEGIN inputs -->"
	ReadmeEnd   = "<!-- END inputs -->"
)

// GenerateCommand regenerates the files; messages that ask for it quote it.
const GenerateCommand = "go generate ./internal/packaging"

//go:embed action.yml.tmpl
var actionTemplate string

// The template holds ${{ github.token }}, so its own actions use other delimiters.
var actionTmpl = template.Must(template.New("action.yml").Delims("[[", "]]").Parse(actionTemplate))

// File is a generated file: its path relative to the module root, and its content.
type File struct {
	Path string
	Data []byte
}

// Generate returns action.yml and README.md as they must be: rendered from config's option and
// output tables, keeping what the generator does not own (the README outside its markers,
// action.yml's runs.image, which a release commit pins to the signed image).
func Generate(root string) ([]File, error) {
	action, err := os.ReadFile(filepath.Join(root, ActionFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	actionYAML, err := ActionYAML(currentImage(action))
	if err != nil {
		return nil, err
	}
	readme, err := os.ReadFile(filepath.Join(root, ReadmeFile))
	if err != nil {
		return nil, err
	}
	newReadme, err := ReplaceSection(string(readme), ReadmeBegin, ReadmeEnd, ReadmeTables())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ReadmeFile, err)
	}
	return []File{{ActionFile, actionYAML}, {ReadmeFile, []byte(newReadme)}}, nil
}

// ModuleRoot is the folder holding go.mod at or above dir.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the current folder: run the generator inside the module")
		}
		dir = parent
	}
}

// DefaultImage is what action.yml runs on the main branch: the runner builds the Dockerfile.
const DefaultImage = "Dockerfile"

// PinnedImage is what a release commit runs: the signed image, by digest.
var PinnedImage = regexp.MustCompile(`^docker://ghcr\.io/[a-z0-9._-]+/fleetpush@sha256:[0-9a-f]{64}$`)

// imageLine is the line the release workflow rewrites (sed 's|^  image: .*|...|').
var imageLine = regexp.MustCompile(`(?m)^  image: (\S+)\s*$`)

// currentImage is action.yml's runs.image when it is one of the two the project uses, else the
// Dockerfile: a hand-edited image is not carried over.
func currentImage(action []byte) string {
	if m := imageLine.FindSubmatch(action); m != nil {
		if img := string(m[1]); img == DefaultImage || PinnedImage.MatchString(img) {
			return img
		}
	}
	return DefaultImage
}

// ActionYAML renders action.yml with the given runs.image.
func ActionYAML(image string) ([]byte, error) {
	var inputs, outputs strings.Builder
	for _, o := range config.ActionInputs() {
		fmt.Fprintf(&inputs, "  %s:\n", o.Name)
		writeDescription(&inputs, InputDescription(o))
		inputs.WriteString("    required: false\n")
		if o.Default != "" {
			fmt.Fprintf(&inputs, "    default: %s\n", strconv.Quote(o.Default))
		}
	}
	for _, o := range config.Outputs {
		fmt.Fprintf(&outputs, "  %s:\n", o.Name)
		writeDescription(&outputs, o.Description)
	}
	var b strings.Builder
	err := actionTmpl.Execute(&b, struct{ Inputs, Outputs, Image string }{inputs.String(), outputs.String(), image})
	return []byte(b.String()), err
}

// InputDescription is an input's description in action.yml, which has no column for a default
// found at run time: the description says it.
func InputDescription(o config.Option) string {
	if o.DefaultDoc == "" {
		return o.Description
	}
	return o.Description + " Default: " + o.DefaultDoc + "."
}

// writeDescription writes a folded block scalar: its lines are joined with single spaces when
// read, so any one-paragraph text (config's tests hold them to single spaces) comes back
// unchanged, and no character in it needs YAML escaping.
func writeDescription(b *strings.Builder, text string) {
	b.WriteString("    description: >-\n")
	for _, line := range wrap(text, 100-6) {
		b.WriteString("      " + line + "\n")
	}
}

// wrap breaks text into lines of at most width bytes at spaces; a longer word stays whole.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// ReadmeTables renders the README's generated section: the inputs, the CLI-only flags and the
// outputs.
func ReadmeTables() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- Generated by `%s` from the option and output tables of internal/config: edit those, not this section. -->\n\n", GenerateCommand)
	b.WriteString("### Inputs\n\n")
	b.WriteString("Every input is also a CLI flag of the same name (`components-dir` is `--components-dir`).\n\n")
	b.WriteString("| Input | Default | Description |\n|---|---|---|\n")
	var cliOnly []config.Option
	for _, o := range config.Options {
		if o.CLIOnly {
			cliOnly = append(cliOnly, o)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", code(o.Name), defaultCell(o), cell(o.Description))
	}
	b.WriteString("\n### CLI-only flags\n\n")
	b.WriteString("| Flag | Default | Description |\n|---|---|---|\n")
	for _, o := range cliOnly {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", code("--"+o.Name), defaultCell(o), cell(o.Description))
	}
	b.WriteString("\n### Outputs\n\n")
	b.WriteString("| Output | Description |\n|---|---|\n")
	for _, o := range config.Outputs {
		fmt.Fprintf(&b, "| %s | %s |\n", code(o.Name), cell(o.Description))
	}
	return b.String()
}

func defaultCell(o config.Option) string {
	if d := o.DefaultText(); d != "" {
		return cell(d)
	}
	return "—"
}

func code(s string) string { return "`" + s + "`" }

// cell keeps a text on one table row: newlines would end the row, pipes the cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
}

// ReplaceSection returns doc with the text between the begin and end marker lines replaced by
// body. When the markers are missing it appends them, with body, at the end.
func ReplaceSection(doc, begin, end, body string) (string, error) {
	section := begin + "\n" + body + end
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	switch {
	case i < 0 && j < 0:
		if doc != "" && !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		if doc != "" {
			doc += "\n"
		}
		return doc + section + "\n", nil
	case i < 0 || j < i:
		return "", fmt.Errorf("markers %q and %q are missing or out of order: fix them by hand", begin, end)
	}
	return doc[:i] + section + doc[j+len(end):], nil
}
