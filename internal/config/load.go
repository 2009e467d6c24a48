package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
	c := &Config{}
	gh := readGitHub(getenv)
	c.GitHub = gh

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
		values["command"] = cmd
		fs := flag.NewFlagSet("fleetpush "+cmd, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		for _, o := range Options {
			if o.Name == "command" {
				continue
			}
			fs.Var(&flagValue{name: o.Name, values: values, isBool: o.kind == kBool, accumulate: o.kind == kList || o.kind == kMap}, o.Name, o.Usage)
		}
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				writeUsage(usage)
				return nil, ErrHelp
			}
			return nil, fmt.Errorf("%w (see `fleetpush %s --help`)", err, cmd)
		}
		if fs.NArg() > 0 {
			return nil, fmt.Errorf("unexpected argument %q: every value is given with a flag, e.g. --components %s", fs.Arg(0), fs.Arg(0))
		}
	case gh.Actions:
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

	for _, o := range Options {
		text, given := values[o.Name]
		if !given {
			text = o.Default
		}
		if text == "" && o.kind != kList && o.kind != kMap {
			o.set(c, zero(o.kind))
			continue
		}
		v, err := o.parse(text, origin(o.Name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o.set(c, v)
	}
	if c.MaxBytes == 0 {
		c.MaxBytes, _ = parseSize("100Mi")
	}
	c.CosignPassword = getenv("COSIGN_PASSWORD")
	c.applyDefaults(getenv)
	return c, errors.Join(errs...)
}

func zero(k kind) any {
	switch k {
	case kBool:
		return false
	case kInt:
		return 0
	}
	return ""
}

func readGitHub(getenv func(string) string) GitHub {
	return GitHub{
		Actions:           getenv("GITHUB_ACTIONS") == "true",
		Act:               getenv("ACT") == "true",
		CI:                getenv("CI") == "true",
		Repository:        getenv("GITHUB_REPOSITORY"),
		ServerURL:         getenv("GITHUB_SERVER_URL"),
		EventName:         getenv("GITHUB_EVENT_NAME"),
		EventPath:         getenv("GITHUB_EVENT_PATH"),
		WorkflowRef:       getenv("GITHUB_WORKFLOW_REF"),
		Actor:             getenv("GITHUB_ACTOR"),
		Token:             getenv("GITHUB_TOKEN"),
		Workspace:         getenv("GITHUB_WORKSPACE"),
		OutputFile:        getenv("GITHUB_OUTPUT"),
		SummaryFile:       getenv("GITHUB_STEP_SUMMARY"),
		TokenRequestURL:   getenv("ACTIONS_ID_TOKEN_REQUEST_URL"),
		TokenRequestToken: getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
	}
}

// applyDefaults fills the values whose default depends on where the run happens.
func (c *Config) applyDefaults(getenv func(string) string) {
	gh := c.GitHub
	if c.Source == "" || (c.Source == "." && gh.Actions && gh.Workspace != "") {
		c.Source = "."
		if gh.Actions && gh.Workspace != "" {
			c.Source = gh.Workspace
		}
	}
	if c.Repository == "" {
		if gh.Actions && gh.Repository != "" {
			c.Repository = "ghcr.io/" + strings.ToLower(gh.Repository)
		} else {
			c.Repository = LayoutScheme + "dist"
		}
	}
	if c.Sign == "" {
		switch {
		case c.Command == Promote || c.Command == Verify:
			// Both exist to check signatures: a rollback must never put an unsigned artifact
			// in production because a flag was forgotten. sign: none skips the check, said.
			c.Sign = SignKeyless
		case gh.Actions && !gh.Act:
			c.Sign = SignKeyless
		default:
			c.Sign = SignNone
		}
	}
	if gh.DefaultBranch == "" {
		c.GitHub.DefaultBranch = eventDefaultBranch(gh.EventPath)
	}
	if c.Ref == "" {
		c.Ref = getenv("GITHUB_REF")
	}
	if c.SHA == "" && gh.Actions {
		c.SHA = getenv("GITHUB_SHA")
	}
	if c.Path == "./" {
		c.Path = "."
	}
	c.DryRunOn = c.resolveDryRun()
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
	if c.GitHub.Act {
		return true
	}
	if c.Command == Publish && c.Sign == SignKeyless && c.GitHub.TokenRequestURL == "" && !c.GitHub.CI && !c.GitHub.Actions {
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
	fmt.Fprintf(w, "\nFlags (each is also the action input of the same name):\n")
	for _, o := range Options {
		if o.Name == "command" {
			continue
		}
		def := ""
		if o.Default != "" {
			def = " (default " + o.Default + ")"
		}
		fmt.Fprintf(w, "  --%-18s %s%s\n", o.Name, o.Usage, def)
	}
}

// eventDefaultBranch reads repository.default_branch from the event payload, or "".
func eventDefaultBranch(path string) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var ev struct {
		Repository struct {
			DefaultBranch string `json:"default_branch"`
		} `json:"repository"`
	}
	if json.Unmarshal(b, &ev) != nil {
		return ""
	}
	return ev.Repository.DefaultBranch
}
