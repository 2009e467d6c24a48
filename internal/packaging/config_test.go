package packaging

import (
	"testing"

	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/google/go-cmp/cmp"
)

// TestActionMatchesConfig: the runner hands the binary exactly the inputs action.yml declares,
// as INPUT_* variables with action.yml's defaults filled in. An input the binary does not read is
// silently ignored, and one it reads but action.yml lacks can never be set: keep both lists, and
// the defaults both sides document, identical.
func TestActionMatchesConfig(t *testing.T) {
	t.Parallel()
	a := loadAction(t)
	var names []string
	defaults := map[string]string{}
	for _, o := range config.ActionInputs() {
		names = append(names, o.Name)
		defaults[o.Name] = o.Default
	}
	if diff := cmp.Diff(names, a.InputNames()); diff != "" {
		t.Errorf("action.yml inputs differ from the binary's (-binary +action.yml):\n%s", diff)
	}
	for _, in := range a.Inputs {
		if want, ok := defaults[in.Name]; ok && in.Default != want {
			t.Errorf("input %q: action.yml default %q, binary default %q", in.Name, in.Default, want)
		}
	}
}
