package gitdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// event is the part of a GitHub webhook payload change detection reads.
type event struct {
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

// RangeFromEvent returns what to compare for a GitHub Actions event
// (GITHUB_EVENT_NAME and the contents of GITHUB_EVENT_PATH), and the
// repository's default branch when the payload names it:
//
//   - push: before..after (before may be zeros: the first push of the ref);
//   - pull_request, pull_request_target: base.sha...head.sha;
//   - merge_group: base_sha..head_sha (the queue's commit on top of its base);
//   - anything else (workflow_dispatch, schedule, release, ...): a Range
//     with no Base, so every component is a candidate.
//
// An empty payload (a local run) gives a Range with no Base.
func RangeFromEvent(eventName string, payload []byte) (rng Range, defaultBranch string, err error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return Range{}, "", nil
	}
	var ev event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return Range{}, "", fmt.Errorf("reading the %q event payload: %w", eventName, err)
	}
	if ev.Repository != nil {
		defaultBranch = ev.Repository.DefaultBranch
	}
	switch eventName {
	case "push":
		if ev.Deleted || isZeroSHA(ev.After) {
			return Range{}, defaultBranch, fmt.Errorf("reading the push event: it deletes %q, there is no commit to detect changes in", ev.Ref)
		}
		if ev.After == "" {
			return Range{}, defaultBranch, fmt.Errorf("reading the push event: no \"after\" commit in the payload")
		}
		return Range{Base: ev.Before, Head: ev.After, Ref: ev.Ref}, defaultBranch, nil
	case "pull_request", "pull_request_target":
		pr := ev.PullRequest
		if pr == nil || pr.Base.SHA == "" || pr.Head.SHA == "" {
			return Range{}, defaultBranch, fmt.Errorf("reading the %s event: no pull_request.base.sha and pull_request.head.sha in the payload", eventName)
		}
		return Range{Base: pr.Base.SHA, Head: pr.Head.SHA, ThreeDot: true}, defaultBranch, nil
	case "merge_group":
		mg := ev.MergeGroup
		if mg == nil || mg.BaseSHA == "" || mg.HeadSHA == "" {
			return Range{}, defaultBranch, fmt.Errorf("reading the merge_group event: no merge_group.base_sha and merge_group.head_sha in the payload")
		}
		return Range{Base: mg.BaseSHA, Head: mg.HeadSHA}, defaultBranch, nil
	}
	return Range{}, defaultBranch, nil
}
