package gitdiff

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/fleetpush/fleetpush/internal/inputfile"
)

// Event is the part of a GitHub Actions event (GITHUB_EVENT_NAME and the payload at
// GITHUB_EVENT_PATH) a run uses. A run reads it once, with ReadEvent, and hands it to whoever
// needs it: change detection (Range) and the main branch (DefaultBranch).
type Event struct {
	// Name is GITHUB_EVENT_NAME: push, pull_request, workflow_dispatch, ...
	Name string

	// Ref, Before, After and Deleted come from a push payload.
	Ref     string
	Before  string
	After   string
	Deleted bool

	// Base and Head are the commits a pull_request(_target) or merge_group event compares;
	// both empty when the payload does not name them.
	Base, Head string

	// DefaultBranch is the repository's default branch (repository.default_branch), or "".
	DefaultBranch string

	// Err is why the payload could not be read or parsed: the Event then holds only its Name,
	// and Range returns Err, so that change detection treats every component as a candidate.
	Err error

	// hasPayload tells a local run (no payload: nothing to compare) from a payload that lacks
	// what its event should carry (an error).
	hasPayload bool
}

// payload is the JSON of a webhook payload, as far as Event reads it.
type payload struct {
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`

	PullRequest *struct {
		Base struct {
			SHA string `json:"sha"`
		} `json:"base"`
		Head struct {
			SHA string `json:"sha"`
		} `json:"head"`
	} `json:"pull_request"`

	MergeGroup *struct {
		BaseSHA string `json:"base_sha"`
		HeadSHA string `json:"head_sha"`
	} `json:"merge_group"`

	Repository *struct {
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
}

// ReadEvent reads the event payload at path (GITHUB_EVENT_PATH) for the event name (GITHUB_EVENT_NAME).
// An empty path is a run outside Actions: an Event with no payload. A payload that cannot be
// read or parsed gives an Event whose Err says why; ReadEvent itself never fails, since a run
// can go on without the event (it only loses change detection and the default branch).
func ReadEvent(name, path string) Event {
	if path == "" {
		return Event{Name: name}
	}
	// Through the one reader of files the environment names: a FIFO or a device there would
	// otherwise hang the run or never end.
	b, err := inputfile.Read(inputfile.Event, path)
	if err != nil {
		return Event{Name: name, Err: err}
	}
	return ParseEvent(name, b)
}

// ParseEvent parses a payload for the event name. An empty payload (a local run) gives an
// Event with no fields but the name.
func ParseEvent(name string, b []byte) Event {
	ev := Event{Name: name}
	if len(bytes.TrimSpace(b)) == 0 {
		return ev
	}
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		ev.Err = fmt.Errorf("reading the %q event payload: %w", name, err)
		return ev
	}
	ev.hasPayload = true
	ev.Ref, ev.Before, ev.After, ev.Deleted = p.Ref, p.Before, p.After, p.Deleted
	switch {
	case (name == "pull_request" || name == "pull_request_target") && p.PullRequest != nil:
		ev.Base, ev.Head = p.PullRequest.Base.SHA, p.PullRequest.Head.SHA
	case name == "merge_group" && p.MergeGroup != nil:
		ev.Base, ev.Head = p.MergeGroup.BaseSHA, p.MergeGroup.HeadSHA
	}
	if p.Repository != nil {
		ev.DefaultBranch = p.Repository.DefaultBranch
	}
	return ev
}

// Range returns what to compare for the event:
//
//   - push: before..after (before may be zeros: the first push of the ref);
//   - pull_request, pull_request_target: base.sha...head.sha;
//   - merge_group: base_sha..head_sha (the queue's commit on top of its base);
//   - anything else (workflow_dispatch, schedule, release, ...): a Range
//     with no Base, so every component is a candidate.
//
// An Event without a payload (a local run) gives a Range with no Base.
func (e Event) Range() (Range, error) {
	if e.Err != nil {
		return Range{}, e.Err
	}
	if !e.hasPayload {
		return Range{}, nil
	}
	switch e.Name {
	case "push":
		if e.Deleted || isZeroSHA(e.After) {
			return Range{}, fmt.Errorf("reading the push event: it deletes %q, there is no commit to detect changes in", e.Ref)
		}
		if e.After == "" {
			return Range{}, fmt.Errorf("reading the push event: no \"after\" commit in the payload")
		}
		return Range{Base: e.Before, Head: e.After, Ref: e.Ref}, nil
	case "pull_request", "pull_request_target":
		if e.Base == "" || e.Head == "" {
			return Range{}, fmt.Errorf("reading the %s event: no pull_request.base.sha and pull_request.head.sha in the payload", e.Name)
		}
		return Range{Base: e.Base, Head: e.Head, ThreeDot: true}, nil
	case "merge_group":
		if e.Base == "" || e.Head == "" {
			return Range{}, fmt.Errorf("reading the merge_group event: no merge_group.base_sha and merge_group.head_sha in the payload")
		}
		return Range{Base: e.Base, Head: e.Head}, nil
	}
	return Range{}, nil
}
