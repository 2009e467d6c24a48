package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// The layout folder inside the artifact, spelled with ".." after a link (which path cleaning
// resolves to another folder), is written and left out by its real path: the second run packs
// the same files, so nothing new is published, and the log says what was left out.
func TestLayoutInsideTheArtifactSpelledWithDotDot(t *testing.T) {
	t.Parallel()
	repo := testenv.NewGitRepo(t, "../../testdata/fleet")
	if err := os.Symlink("clusters/staging", filepath.Join(repo.Dir, "lnk")); err != nil {
		t.Fatal(err)
	}
	repo.Commit("a link into the fleet")
	layout := "oci-layout:" + repo.Dir + "/lnk/../out" // clusters/out on disk; out by its text
	code, first, stderr := publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", layout, "--path", "./", "--sign", "none")
	mustCode(t, code, 0, stderr)
	if _, err := os.Stat(filepath.Join(repo.Dir, "clusters", "out", "oci-layout")); err != nil {
		t.Fatalf("the layout is not where the kernel resolves %q: %v", layout, err)
	}
	code, second, stderr := publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", layout, "--path", "./", "--sign", "none")
	mustCode(t, code, 0, stderr)
	if first[""].Digest != second[""].Digest || second[""].Status != report.Unchanged {
		t.Errorf("second run = %+v, first %+v: want the same digest, unchanged", second[""], first[""])
	}
	if !strings.Contains(stderr, `left out "clusters/out": it is the OCI layout this run writes to`) {
		t.Errorf("the log does not say the layout folder was left out:\n%s", stderr)
	}
}

// A folder that is the layout it is written to is refused before anything is written, however
// the folder is spelled: the checkout itself for a single artifact, or the components folder in
// component mode (each component would be written into its own folder).
func TestLayoutThatIsTheArtifactIsRefused(t *testing.T) {
	t.Parallel()
	fleet := testenv.NewGitRepo(t, "../../testdata/fleet")
	apps := apps(t)
	tests := []struct {
		name string
		dir  string
		args []string
	}{
		{"checkout", fleet.Dir, []string{"--repository", "oci-layout:" + fleet.Dir + "/clusters/..", "--path", "./"}},
		{"components folder", apps.Dir, []string{"--repository", "oci-layout:" + apps.Dir + "/components/x/../../components"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, nil, append([]string{"publish", "--source", tt.dir, "--sign", "none"}, tt.args...)...)
			if code == 0 {
				t.Fatalf("publish succeeded:\n%s", stderr)
			}
			for _, want := range []string{"repository oci-layout:", "the folder being packed", "give a layout folder outside it"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr)
				}
			}
			if err := filepath.WalkDir(tt.dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Name() == "oci-layout" {
					t.Errorf("%s was written", p)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A user's own dist/ is published, never left out silently; a run told to write its layout
// there refuses to mix the layout into the user's files.
func TestUsersDistIsNeverDroppedOrMixed(t *testing.T) {
	t.Parallel()
	repo := testenv.NewGitRepo(t, "../../testdata/fleet")
	repo.CommitFiles("a dist of the user's", map[string]string{"dist/notes.txt": "kept\n"})
	layout := "oci-layout:" + repo.Dir + "/dist"
	code, _, stderr := run(t, nil, "publish", "--source", repo.Dir, "--repository", layout, "--path", "./", "--sign", "none")
	if code == 0 || !strings.Contains(stderr, `holds other files ("notes.txt")`) {
		t.Errorf("publish = %d, want the layout refused among the user's files:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "left out") {
		t.Errorf("the user's dist/ was left out:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(repo.Dir, "dist", "oci-layout")); err == nil {
		t.Error("the layout was written among the user's files")
	}
	// Elsewhere, the same checkout publishes dist/ as content.
	other := "oci-layout:" + filepath.Join(t.TempDir(), "out")
	code, rs, stderr := publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", other, "--path", "./", "--sign", "none")
	mustCode(t, code, 0, stderr)
	if rs[""].Status != report.Pushed {
		t.Errorf("publish elsewhere = %+v", rs[""])
	}
}
