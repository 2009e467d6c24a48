package app

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestSigningOverlapsThePush fails each side of the overlaps of a keyless publish: the log
// entries of a new digest are made while its push is in flight (signWhilePushing), and the
// tags' first reads go out beside the last check of the referrers index (tagger.Begin). A push
// that fails while the entries are made, or a log entry that fails while the push succeeds,
// must leave no tag and no signature; a last check of the index that fails while the tags are
// read must leave no tag of the component; the re-run, without the fault, publishes and tags
// the digest signed.
func TestSigningOverlapsThePush(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	st := testenv.Sigstore(t)
	repo := apps(t)
	tests := []struct {
		name   string
		rekor  bool           // the fault is Rekor's, else the registry's
		fault  testenv.Fault  // persistent
		after  *testenv.Fault // the fault's marker (Fault.After), if any
		wait   *testenv.Fault // the request the fault's answer waits for (Fault.Wait), if any
		rerun  report.Action  // the re-run's plan
		status string         // the re-run's signed status
		stored bool           // the signatures were stored before the fault
	}{
		{name: "the push fails while the log entries are made", fault: testenv.Fault{Method: "PUT", Path: re(pathManifestByID), Status: 500},
			rerun: report.ActionPush, status: "new"},
		{name: "a log entry fails while the push succeeds", rekor: true, fault: testenv.Fault{Method: "POST", Path: re(`^/api/v1/log/entries$`), Status: 500},
			rerun: report.ActionFinish, status: "healed"},
		{name: "the index's last check fails while the tags are read",
			fault: testenv.Fault{Method: "GET", Path: re(`/manifests/sha256-[0-9a-f]{64}$`), Status: 500},
			after: &testenv.Fault{Method: "PUT", Path: re(`/manifests/sha256-[0-9a-f]{64}$`), Times: -1},
			// The failure is answered once latest has been read: the run gives up the early
			// reads when signing fails, which could otherwise come before they are sent.
			wait:  &testenv.Fault{Method: "GET", Path: re(`/manifests/latest$`), Times: -1},
			rerun: report.ActionFinish, status: "existing", stored: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := testenv.NewProxy(t, host)
			rekor := testenv.NewProxy(t, strings.TrimPrefix(st.RekorURL, "http://"))
			fault := tt.fault
			fault.Times = -1
			if tt.after != nil {
				fault.After = tt.after
				reg.Inject(tt.after)
			}
			if tt.wait != nil {
				tt.wait.After = tt.after // a read after the index is written, not the plan's
				fault.Wait, fault.WaitAtMost = tt.wait, time.Minute
				reg.Inject(tt.wait)
			}
			if tt.rekor {
				rekor.Inject(&fault)
			} else {
				reg.Inject(&fault)
			}
			// The log answers slowly, so the push ends (or fails) while the entries are made
			// (a proxy tries its faults in order: this one after the failure).
			rekor.Latency(200 * time.Millisecond)
			path := fmt.Sprintf("acme/overlap-%d", i)
			env := signedEnv(t, st, repo, reg.Host, "push-artifact.yaml", "refs/heads/main")
			env["INPUT_REPOSITORY"] = reg.Host + "/" + path
			env["INPUT_REKOR-URL"] = "http://" + rekor.Host
			env["INPUT_COMPONENTS"] = "frontend"
			env["INPUT_VALIDATE"] = "false"
			code, _, stderr := run(t, env)
			mustCode(t, code, ExitFailed, stderr)
			if fault.Hits() == 0 {
				t.Fatalf("the fault was never hit:\n%s", stderr)
			}
			if tt.after != nil {
				// The overlap was there: latest was read after the index was written, and
				// never written.
				var indexWritten time.Duration = -1
				readAfter := false
				for _, q := range reg.Timeline() {
					switch {
					case q.Method == "PUT" && tt.after.Path.MatchString(q.Path) && indexWritten < 0:
						indexWritten = q.End
					case q.Method == "GET" && strings.HasSuffix(q.Path, "/manifests/latest") && indexWritten >= 0 && q.Start >= indexWritten:
						readAfter = true
					case q.Method == "PUT" && strings.HasSuffix(q.Path, "/manifests/latest"):
						t.Errorf("latest was written: %+v", q)
					}
				}
				if !readAfter {
					t.Errorf("latest was not read after the index was written: the tags' first reads did not overlap the index's last check")
				}
			}
			r := actionResults(t, env)["frontend"]
			if r.Status != report.Failed {
				t.Errorf("frontend: status %s, want failed", r.Status)
			}
			// No tag at all: neither the component's nor (unless they were stored before the
			// fault) a signature's.
			for _, tag := range testenv.Tags(t, host, path+"/frontend") {
				if !tt.stored || !strings.HasPrefix(tag, "sha256-") {
					t.Errorf("the failed run left the tag %s", tag)
				}
			}

			reg.Clear()
			rekor.Clear()
			rekor.Latency(200 * time.Millisecond)
			env = signedEnv(t, st, repo, reg.Host, "push-artifact.yaml", "refs/heads/main")
			env["INPUT_REPOSITORY"] = reg.Host + "/" + path
			env["INPUT_REKOR-URL"] = "http://" + rekor.Host
			env["INPUT_COMPONENTS"] = "frontend"
			env["INPUT_VALIDATE"] = "false"
			env["GITHUB_OUTPUT"] = filepath.Join(t.TempDir(), "out")
			code, _, stderr = run(t, env)
			mustCode(t, code, ExitOK, stderr)
			r = actionResults(t, env)["frontend"]
			if r.Plan == nil || r.Plan.Action != tt.rerun || r.Signed != tt.status || !r.Verified {
				t.Errorf("re-run: plan %+v signed %q verified %v, want %s, %s, verified", r.Plan, r.Signed, r.Verified, tt.rerun, tt.status)
			}
			for _, tag := range []string{"latest"} {
				if d := testenv.DigestAt(t, host, path+"/frontend", tag); d != r.Digest {
					t.Errorf("re-run: %s → %q, want %s", tag, d, r.Digest)
				}
			}
			if n := signatureLayers(t, host, path+"/frontend", r.Digest); n != 1 {
				t.Errorf("re-run: %d signatures, want 1", n)
			}
		})
	}
}
