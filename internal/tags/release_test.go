package tags_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/tags"
)

func TestParseRelease(t *testing.T) {
	t.Parallel()
	components := []string{"frontend", "backend"}
	const canonicalHelp = "expected vMAJOR.MINOR.PATCH such as v1.2.3, optionally with a pre-release such as v1.2.3-rc.1 and without +build metadata"
	for _, tt := range []struct {
		name       string
		single     bool
		tag        string
		components []string
		want       tags.Release
		wantErr    string
	}{
		{name: "component release", tag: "frontend/v1.2.3", components: components, want: tags.Release{Component: "frontend", Version: "v1.2.3"}},
		{name: "component pre-release", tag: "backend/v2.0.0-rc.1", components: components, want: tags.Release{Component: "backend", Version: "v2.0.0-rc.1"}},
		{name: "single release", single: true, tag: "v1.2.3", want: tags.Release{Version: "v1.2.3"}},
		{name: "single pre-release", single: true, tag: "v0.1.0-alpha", want: tags.Release{Version: "v0.1.0-alpha"}},
		{name: "single ignores components", single: true, tag: "v1.0.0", components: components, want: tags.Release{Version: "v1.0.0"}},
		{
			name: "unknown component", tag: "frontnd/v1.2.3", components: components,
			wantErr: `tag "frontnd/v1.2.3" names component "frontnd", which is not one of the known components (backend, frontend): tag <component>/vX.Y.Z with one of them`,
		},
		{
			name: "no components known", tag: "frontend/v1.2.3",
			wantErr: `tag "frontend/v1.2.3" names component "frontend", which is not one of the known components (none): tag <component>/vX.Y.Z with one of them`,
		},
		{
			name: "empty component", tag: "/v1.2.3", components: components,
			wantErr: `tag "/v1.2.3" names component "", which is not one of the known components (backend, frontend): tag <component>/vX.Y.Z with one of them`,
		},
		{
			name: "nested component", tag: "apps/frontend/v1.2.3", components: components,
			wantErr: `tag "apps/frontend/v1.2.3" names component "apps/frontend", which is not one of the known components (backend, frontend): tag <component>/vX.Y.Z with one of them`,
		},
		{
			name: "version without component in component mode", tag: "v1.2.3", components: components,
			wantErr: `tag "v1.2.3" is not a release tag: in component mode release tags are <component>/vX.Y.Z, such as backend/v1.2.3 (known components: backend, frontend)`,
		},
		{
			name: "component tag in single mode", single: true, tag: "frontend/v1.2.3",
			wantErr: `tag "frontend/v1.2.3" is not a release tag: in single-artifact mode release tags are vX.Y.Z, such as v1.2.3`,
		},
		{
			name: "v-less", single: true, tag: "1.2.3",
			wantErr: `tag "1.2.3": version "1.2.3" is not a canonical semantic version: ` + canonicalHelp + ` (did you mean v1.2.3?)`,
		},
		{
			name: "upper-case V", tag: "frontend/V1.2.3", components: components,
			wantErr: `tag "frontend/V1.2.3": version "V1.2.3" is not a canonical semantic version: ` + canonicalHelp + ` (did you mean v1.2.3?)`,
		},
		{
			name: "short form", tag: "frontend/v1.2", components: components,
			wantErr: `tag "frontend/v1.2": version "v1.2" is not a canonical semantic version: ` + canonicalHelp + ` (did you mean v1.2.0?)`,
		},
		{
			name: "major only", single: true, tag: "v1",
			wantErr: `tag "v1": version "v1" is not a canonical semantic version: ` + canonicalHelp + ` (did you mean v1.0.0?)`,
		},
		{
			name: "build metadata", single: true, tag: "v1.2.3+meta",
			wantErr: `tag "v1.2.3+meta": version "v1.2.3+meta" is not a canonical semantic version: ` + canonicalHelp + ` (did you mean v1.2.3?)`,
		},
		{
			name: "leading zero", single: true, tag: "v01.2.3",
			wantErr: `tag "v01.2.3": version "v01.2.3" is not a canonical semantic version: ` + canonicalHelp,
		},
		{
			name: "not a version", single: true, tag: "nightly",
			wantErr: `tag "nightly": version "nightly" is not a canonical semantic version: ` + canonicalHelp,
		},
		{
			name: "empty version", tag: "frontend/", components: components,
			wantErr: `tag "frontend/": version "" is not a canonical semantic version: ` + canonicalHelp,
		},
		{
			name: "pre-release too long for a tag", single: true, tag: "v1.2.3-" + strings.Repeat("x", 122),
			wantErr: `tag "v1.2.3-` + strings.Repeat("x", 122) + `": version "v1.2.3-` + strings.Repeat("x", 122) + `" is longer than an OCI tag may be (128 characters): shorten the pre-release`,
		},
		{
			name: "unknown component and bad version together", tag: "frontnd/v1.2", components: components,
			wantErr: `tag "frontnd/v1.2" names component "frontnd", which is not one of the known components (backend, frontend): tag <component>/vX.Y.Z with one of them` + "\n" +
				`tag "frontnd/v1.2": version "v1.2" is not a canonical semantic version: ` + canonicalHelp + ` (did you mean v1.2.0?)`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tags.Policy{Single: tt.single}.ParseRelease(tt.tag, tt.components)
			if got, want := errText(err), tt.wantErr; got != want {
				t.Fatalf("ParseRelease(%q) error = %q, want %q", tt.tag, got, want)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRelease(%q) mismatch (-want +got):\n%s", tt.tag, diff)
			}
		})
	}
}

func TestIsReleaseIsStable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in              string
		release, stable bool
	}{
		{"v1.2.3", true, true},
		{"v0.0.0", true, true},
		{"v1.2.3-rc.1", true, false},
		{"v1.2.3-0", true, false},
		{"v1.2", false, false},
		{"v1", false, false},
		{"1.2.3", false, false},
		{"v1.2.3+build", false, false},
		{"latest", false, false},
		{"main-1a2b3c4d", false, false},
		{"", false, false},
		{"v1.2.3-" + strings.Repeat("a", 121), true, false},
		{"v1.2.3-" + strings.Repeat("a", 122), false, false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got, want := tags.IsRelease(tt.in), tt.release; got != want {
				t.Errorf("IsRelease(%q) = %v, want %v", tt.in, got, want)
			}
			if got, want := tags.IsStable(tt.in), tt.stable; got != want {
				t.Errorf("IsStable(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
}
