package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sethvargo/go-githubactions"
)

// ErrHelp is returned when the user asked for the usage text; it has been written already.
var ErrHelp = flag.ErrHelp

// Load builds the Config for one run. With arguments it reads the CLI
// (`fleetpush <command> [flags]`); without arguments inside GitHub Actions (the container action
// passes none) it reads the action inputs. The GitHub context is read from the environment in both
// cases, through getenv, so tests hand in a map. Load only parses; call Validate for the checks.
// usage receives the help text when asked for or when the command line is malformed.
func Load(args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	c := &Config{GitHub: readGitHub(getenv)}
	values := map[string]string{}
	var errs []error
	origin := func(name string) string { return "--" + name }

	switch {
	case len(args) > 0:
		cmd, rest := args[0], args[1:]
		if cmd == "help" || cmd == "-h" || cmd == "--help" {
			writeUsage(usage)
			return nil, ErrHelp
		}
		if strings.HasPrefix(cmd, "-") {
			writeUsage(usage)
			return nil, fmt.Errorf("missing command: say which, e.g. `fleetpush publish %s`", strings.Join(args, " "))
		}
		fs := flag.NewFlagSet("fleetpush "+cmd, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		for _, o := range Options {
			if !o.Flag() {
				values[o.Name] = cmd
				continue
			}
			fs.Var(&flagValue{name: o.Name, values: values, isBool: o.field.isBool(), accumulate: o.field.isList()}, o.Name, o.Description)
		}
		rest, after := joinBoolValues(fs, rest)
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				writeUsage(usage)
				return nil, ErrHelp
			}
			return nil, fmt.Errorf("%w (see `fleetpush %s --help`)", err, cmd)
		}
		if fs.NArg() > 0 {
			if b := after[fs.Arg(0)]; b != "" {
				return nil, fmt.Errorf("unexpected argument %q after --%s, which takes true or false: write --%s (true) or --%s=false", fs.Arg(0), b, b, b)
			}
			return nil, fmt.Errorf("unexpected argument %q: every value is given with a flag, e.g. --components %s", fs.Arg(0), fs.Arg(0))
		}
		// A flag given an empty value is a mistake, usually an unset shell variable
		// (--repository "$REPO"): falling back to the default would publish somewhere else, or
		// everything, without a word.
		for _, o := range Options {
			if v, given := values[o.Name]; given && o.Flag() && strings.TrimSpace(v) == "" {
				errs = append(errs, fmt.Errorf("%s: empty value: give one, or leave the flag out for the default", origin(o.Name)))
				delete(values, o.Name)
			}
		}
	case c.GitHub.Actions:
		// The runner passes every input action.yml declares, "" when the workflow gives none
		// (also `with: x: ${{ vars.UNSET }}`): blank means the default.
		action := githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(io.Discard))
		for _, o := range ActionInputs() {
			if v := action.GetInput(o.Name); v != "" {
				values[o.Name] = v
			}
		}
		origin = func(name string) string { return "input " + name }
	default:
		writeUsage(usage)
		return nil, errors.New("missing command: run `fleetpush publish` (or detect, validate, promote, verify); `fleetpush help` lists the flags")
	}

	var computed []Option
	for _, o := range Options {
		text, given := values[o.Name]
		if !given {
			text = o.Default
		}
		if text == "" {
			if o.compute != nil {
				computed = append(computed, o)
			}
			continue
		}
		if err := o.field.set(c, text); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", origin(o.Name), err))
		}
	}
	for _, o := range computed {
		o.compute(c, getenv)
	}
	_, c.DiffAgainstGiven = values["diff-against"]
	c.CosignPassword = getenv("COSIGN_PASSWORD")
	if c.SHA == "" && c.GitHub.Actions {
		c.SHA = getenv("GITHUB_SHA")
	}
	if c.Path == "./" {
		c.Path = "."
	}
	c.DryRunOn = c.resolveDryRun()
	return c, errors.Join(errs...)
}

func readGitHub(getenv func(string) string) GitHub {
	return GitHub{
		Actions:           getenv("GITHUB_ACTIONS") == "true",
		Act:               getenv("ACT") == "true",
		CI:                getenv("CI") == "true",
		Repository:        getenv("GITHUB_REPOSITORY"),
		ServerURL:         getenv("GITHUB_SERVER_URL"),
		APIURL:            getenv("GITHUB_API_URL"),
		EventName:         getenv("GITHUB_EVENT_NAME"),
		EventPath:         getenv("GITHUB_EVENT_PATH"),
		WorkflowRef:       getenv("GITHUB_WORKFLOW_REF"),
		RunID:             getenv("GITHUB_RUN_ID"),
		RunAttempt:        getenv("GITHUB_RUN_ATTEMPT"),
		Actor:             getenv("GITHUB_ACTOR"),
		Token:             getenv("GITHUB_TOKEN"),
		Workspace:         getenv("GITHUB_WORKSPACE"),
		OutputFile:        getenv("GITHUB_OUTPUT"),
		SummaryFile:       getenv("GITHUB_STEP_SUMMARY"),
		TokenRequestURL:   getenv("ACTIONS_ID_TOKEN_REQUEST_URL"),
		TokenRequestToken: getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
	}
}

// resolveDryRun: "auto" is a dry run under act (no OIDC token, a laptop's docker) and when
// keyless signing is asked for in a shell that cannot get a token and is not CI, so trying the
// action on a laptop never half-publishes an unsigned artifact.
func (c *Config) resolveDryRun() bool {
	switch c.DryRun {
	case "true":
		return true
	case "false":
		return false
	}
	if c.Command == Prune {
		// Destructive: only an explicit dry-run: false deletes.
		return true
	}
	if c.GitHub.Act {
		return true
	}
	if c.Command == Publish && c.Sign == SignKeyless && c.GitHub.TokenRequestURL == "" && !c.GitHub.CI && !c.GitHub.Actions {
		return true
	}
	return false
}

// joinBoolValues lets a boolean flag take its value as the next argument, as
// people type it: `--provenance false` becomes `--provenance=false`. Only a
// boolean word (true or false, in the spellings a boolean input accepts) is
// taken: fleetpush's commands take no positional arguments, so such a word
// can only be meant as the flag's value, while anything else (`--all
// components`) stays an unexpected argument. after maps such an argument to
// the boolean flag before it, for the error. Values of other flags are
// skipped as flag.Parse reads them, and nothing after "--" is touched.
func joinBoolValues(fs *flag.FlagSet, args []string) (out []string, after map[string]string) {
	after = map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		if a == "--" {
			return append(out, args[i+1:]...), after
		}
		name, ok := flagName(a)
		if !ok {
			continue
		}
		f := fs.Lookup(name)
		if f == nil || strings.Contains(a, "=") || i+1 >= len(args) {
			continue
		}
		if b, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool || !b.IsBoolFlag() {
			i++ // the flag's own value: never a flag to look at
			out = append(out, args[i])
			continue
		}
		if next := args[i+1]; boolWord(next) {
			out[len(out)-1] = a + "=" + next
			i++
		} else if _, isFlag := flagName(next); !isFlag {
			after[next] = name
		}
	}
	return out, after
}

// flagName is the name of a flag argument ("-x", "--x", "--x=v"); ok is
// false for anything else, "-" and "--" included.
func flagName(a string) (string, bool) {
	if len(a) < 2 || a[0] != '-' || a == "--" {
		return "", false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	return name, name != "" && name[0] != '-'
}

// boolWord reports whether s is a value a boolean flag accepts.
func boolWord(s string) bool {
	switch s {
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return true
	}
	return false
}

// flagValue collects a flag's text into values, so flags and inputs share one parser.
type flagValue struct {
	name       string
	values     map[string]string
	isBool     bool
	accumulate bool
}

func (f *flagValue) String() string { return "" }
func (f *flagValue) Set(s string) error {
	if prev, ok := f.values[f.name]; ok && f.accumulate {
		// Repeated list flags accumulate: --components a --components b.
		s = prev + "," + s
	}
	f.values[f.name] = s
	return nil
}
func (f *flagValue) IsBoolFlag() bool { return f.isBool }

func writeUsage(w io.Writer) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, "Usage: fleetpush <command> [flags]\n\nCommands:\n")
	for _, c := range Commands {
		fmt.Fprintf(w, "  %s\n", c)
	}
	fmt.Fprintf(w, "\nFlags (each is also the action input of the same name, unless it says CLI only):\n")
	for _, o := range Options {
		if !o.Flag() {
			continue
		}
		text := o.Description
		if o.CLIOnly {
			text += " CLI only."
		}
		if d := o.DefaultText(); d != "" {
			text += " (default " + d + ")"
		}
		fmt.Fprintf(w, "  --%s\n", o.Name)
		for _, line := range Wrap(strings.ReplaceAll(text, "`", ""), 90) {
			fmt.Fprintf(w, "        %s\n", line)
		}
	}
}

// DefaultText is the default as the docs show it, in markdown: the value, or how a default that
// depends on the run is found; "" when there is none.
func (o Option) DefaultText() string {
	if o.Default != "" {
		return "`" + o.Default + "`"
	}
	return o.DefaultDoc
}

// Wrap breaks text into lines of at most width bytes at spaces; a longer word stays whole.
func Wrap(text string, width int) []string {
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
