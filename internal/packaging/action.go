package packaging

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Action is the part of an action.yml the checks and the README table need, in file order.
type Action struct {
	Name        string
	Description string
	Inputs      []Input
	Outputs     []Output
	Runs        Runs
}

// Input is one action input.
type Input struct {
	Name        string
	Description string
	Default     string
	HasDefault  bool
	Required    bool
}

// Output is one action output.
type Output struct {
	Name        string
	Description string
}

// Runs is the `runs:` section of a docker action.
type Runs struct {
	Using      string            `yaml:"using"`
	Image      string            `yaml:"image"`
	Args       []string          `yaml:"args"`
	Entrypoint string            `yaml:"entrypoint"`
	Env        map[string]string `yaml:"env"`
}

// ParseAction reads action.yml keeping the order of inputs and outputs, which a plain map would
// lose: the README lists them in the order action.yml gives.
func ParseAction(data []byte) (*Action, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing action.yml: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parsing action.yml: want a mapping at the top")
	}
	a := &Action{}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		var err error
		switch key {
		case "name":
			a.Name = val.Value
		case "description":
			a.Description = val.Value
		case "runs":
			err = val.Decode(&a.Runs)
		case "inputs":
			err = eachEntry(val, func(name string, v *yaml.Node) error {
				var in struct {
					Description string  `yaml:"description"`
					Default     *string `yaml:"default"`
					Required    bool    `yaml:"required"`
				}
				if err := v.Decode(&in); err != nil {
					return err
				}
				a.Inputs = append(a.Inputs, Input{Name: name, Description: in.Description, Required: in.Required,
					HasDefault: in.Default != nil, Default: deref(in.Default)})
				return nil
			})
		case "outputs":
			err = eachEntry(val, func(name string, v *yaml.Node) error {
				var out struct {
					Description string `yaml:"description"`
				}
				if err := v.Decode(&out); err != nil {
					return err
				}
				a.Outputs = append(a.Outputs, Output{Name: name, Description: out.Description})
				return nil
			})
		}
		if err != nil {
			return nil, fmt.Errorf("parsing action.yml %q (line %d): %w", key, top.Content[i].Line, err)
		}
	}
	return a, nil
}

func eachEntry(m *yaml.Node, f func(string, *yaml.Node) error) error {
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("want a mapping")
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if err := f(m.Content[i].Value, m.Content[i+1]); err != nil {
			return fmt.Errorf("%q: %w", m.Content[i].Value, err)
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// InputNames returns the input names in file order.
func (a *Action) InputNames() []string {
	names := make([]string, len(a.Inputs))
	for i, in := range a.Inputs {
		names[i] = in.Name
	}
	return names
}

// OutputNames returns the output names in file order.
func (a *Action) OutputNames() []string {
	names := make([]string, len(a.Outputs))
	for i, out := range a.Outputs {
		names[i] = out.Name
	}
	return names
}

// MarkdownTables renders the inputs and outputs as the README's tables.
func (a *Action) MarkdownTables() string {
	var b strings.Builder
	b.WriteString("### Inputs\n\n")
	b.WriteString("Every input is also a CLI flag of the same name (`components-dir` is `--components-dir`).\n\n")
	b.WriteString("| Input | Default | Description |\n|---|---|---|\n")
	for _, in := range a.Inputs {
		def := "—"
		if in.Default != "" {
			def = code(in.Default)
		}
		if in.Required {
			def = "required"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", code(in.Name), def, cell(in.Description))
	}
	b.WriteString("\n### Outputs\n\n")
	b.WriteString("| Output | Description |\n|---|---|\n")
	for _, out := range a.Outputs {
		fmt.Fprintf(&b, "| %s | %s |\n", code(out.Name), cell(out.Description))
	}
	return b.String()
}

func code(s string) string { return "`" + s + "`" }

// cell folds a description onto one table row: newlines would end the row, pipes the cell.
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
