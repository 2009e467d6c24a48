package config

import (
	"regexp"
	"strings"
	"testing"
)

var optionName = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// TestOptionsTable holds the table to what the generated action.yml, README and help rely on.
func TestOptionsTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, o := range Options {
		t.Run(o.Name, func(t *testing.T) {
			if !optionName.MatchString(o.Name) {
				t.Errorf("name %q is not lower-case words joined by '-'", o.Name)
			}
			if seen[o.Name] {
				t.Errorf("name %q appears twice", o.Name)
			}
			seen[o.Name] = true
			if o.field == nil {
				t.Fatal("no field: the option fills nothing")
			}
			checkDescription(t, o.Description)
			if o.Default != "" && o.DefaultDoc != "" {
				t.Errorf("both Default %q and DefaultDoc %q: a default is either fixed or found at run time", o.Default, o.DefaultDoc)
			}
			if o.compute != nil && o.DefaultDoc == "" {
				t.Error("a computed default needs DefaultDoc to say how it is found")
			}
			if o.compute != nil && o.Default != "" {
				t.Error("a computed default is never used: Default is always given")
			}
			if strings.Contains(o.DefaultDoc, "${{") {
				t.Errorf("DefaultDoc %q holds an expression, which the runner may evaluate", o.DefaultDoc)
			}
			// The default text is what action.yml hands the binary: it must parse, and to the
			// value Validate accepts (TestValidateDefaults checks the whole config).
			if o.Default != "" {
				var c Config
				if err := o.field.set(&c, o.Default); err != nil {
					t.Errorf("default %q does not parse: %v", o.Default, err)
				}
			}
			if o.Secret && o.Default != "" {
				t.Errorf("secret with a default %q", o.Default)
			}
		})
	}
	var inputs int
	for _, o := range Options {
		if !o.CLIOnly {
			inputs++
		}
	}
	// GitHub allows an action many inputs, but each is an environment variable of the
	// container: this is a reminder to think before adding, not a limit.
	if inputs > 50 {
		t.Errorf("%d action inputs: consider whether each is needed", inputs)
	}
}

func TestOutputsTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, o := range Outputs {
		if !optionName.MatchString(o.Name) || seen[o.Name] {
			t.Errorf("output %q: want a unique lower-case name joined by '-'", o.Name)
		}
		seen[o.Name] = true
		checkDescription(t, o.Description)
	}
}

// checkDescription: one paragraph of single-spaced text, so action.yml's folded scalars and the
// README's table cells carry it unchanged, and no ${{ }} the runner could evaluate.
func checkDescription(t *testing.T, d string) {
	t.Helper()
	if strings.TrimSpace(d) == "" {
		t.Error("no description")
	}
	if strings.Join(strings.Fields(d), " ") != d {
		t.Errorf("description %q has line breaks, tabs or runs of spaces", d)
	}
	if strings.Contains(d, "${{") {
		t.Errorf("description %q holds an expression, which the runner may evaluate: describe it in words", d)
	}
	if !strings.HasSuffix(d, ".") {
		t.Errorf("description %q does not end with a full stop", d)
	}
}

func TestSizeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{1, 1000, 1 << 10, 3 << 20, 100 << 20, 16 << 20, 5 << 30, 1<<62 + 1} {
		s := formatSize(n)
		got, err := parseSize(s)
		if err != nil || got != n {
			t.Errorf("parseSize(formatSize(%d) = %q) = %d, %v", n, s, got, err)
		}
	}
}
