package sign

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// In-toto statements: what a bundle's DSSE envelope signs.
const (
	inTotoStatementType = "https://in-toto.io/Statement/v1"
	inTotoPayloadType   = "application/vnd.in-toto+json"
	// PredicateCosignSign is the predicate of a signature bundle, as `cosign sign` writes it.
	PredicateCosignSign = "https://sigstore.dev/cosign/sign/v1"
	// PredicateSLSAProvenance is the predicate of a SLSA v1 provenance attestation
	// (`cosign verify-attestation --type slsaprovenance1`).
	PredicateSLSAProvenance = "https://slsa.dev/provenance/v1"
)

// BuildType names how fleetpush builds an artifact, in its provenance: a kustomize component's
// files, packed as a Flux artifact by a GitHub Actions workflow. docs/flux-verify.md describes
// the parameters recorded under it.
const BuildType = "https://github.com/fleetpush/fleetpush/blob/main/docs/flux-verify.md#provenance-v1"

// Provenance is what the run knows about how an artifact was built, for its SLSA provenance.
// The app fills it from the GitHub Actions environment and the component's inputs.
type Provenance struct {
	// ServerURL is GITHUB_SERVER_URL (default https://github.com).
	ServerURL string
	// Repository is GITHUB_REPOSITORY (owner/repo).
	Repository string
	// WorkflowRef is GITHUB_WORKFLOW_REF (owner/repo/.github/workflows/file.yaml@ref), the
	// workflow that ran: the builder.
	WorkflowRef string
	// Ref is GITHUB_REF, the git ref the run built.
	Ref string
	// EventName is GITHUB_EVENT_NAME.
	EventName string
	// RunID and RunAttempt are GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT.
	RunID, RunAttempt string
	// Commit is the git commit the artifact was built from (GITHUB_SHA).
	Commit string
	// Inputs are the inputs that shaped the artifact: component, path, ignore-paths,
	// annotations and the like, by input name.
	Inputs map[string]string
	// StartedOn is when the run started; zero leaves it out.
	StartedOn time.Time
}

// validate says what a provenance statement would miss.
func (p *Provenance) validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"GITHUB_REPOSITORY", p.Repository}, {"GITHUB_WORKFLOW_REF", p.WorkflowRef},
		{"GITHUB_SHA", p.Commit}, {"GITHUB_RUN_ID", p.RunID},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("provenance needs %s from the GitHub Actions environment; outside Actions, set provenance: false", strings.Join(missing, ", "))
	}
	return nil
}

// statement is an in-toto v1 statement.
type statement struct {
	Type          string          `json:"_type"`
	Subject       []subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest"`
}

// signStatement is what a signature bundle signs: the digest, under cosign's sign predicate,
// as cosign v3's `cosign sign` writes it.
func signStatement(ref name.Digest) ([]byte, error) {
	alg, hex, ok := strings.Cut(ref.DigestStr(), ":")
	if !ok {
		return nil, errors.New("a digest without an algorithm")
	}
	return json.Marshal(statement{
		Type:          inTotoStatementType,
		Subject:       []subject{{Digest: map[string]string{alg: hex}}},
		PredicateType: PredicateCosignSign,
		Predicate:     json.RawMessage(`{}`),
	})
}

// SLSA v1 provenance (https://slsa.dev/spec/v1.0/provenance), the parts fleetpush fills.
type slsaPredicate struct {
	BuildDefinition slsaBuildDefinition `json:"buildDefinition"`
	RunDetails      slsaRunDetails      `json:"runDetails"`
}

type slsaBuildDefinition struct {
	BuildType            string             `json:"buildType"`
	ExternalParameters   slsaExternal       `json:"externalParameters"`
	ResolvedDependencies []slsaResourceDesc `json:"resolvedDependencies"`
}

type slsaExternal struct {
	Workflow  slsaWorkflow      `json:"workflow"`
	EventName string            `json:"eventName,omitempty"`
	Inputs    map[string]string `json:"inputs,omitempty"`
}

type slsaWorkflow struct {
	Repository string `json:"repository"`
	Path       string `json:"path"`
	Ref        string `json:"ref"`
}

type slsaResourceDesc struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

type slsaRunDetails struct {
	Builder  slsaBuilder  `json:"builder"`
	Metadata slsaMetadata `json:"metadata"`
}

type slsaBuilder struct {
	ID string `json:"id"`
}

type slsaMetadata struct {
	InvocationID string `json:"invocationId"`
	StartedOn    string `json:"startedOn,omitempty"`
}

// provenanceStatement is the SLSA v1 provenance of ref built as p says.
func provenanceStatement(ref name.Digest, p *Provenance) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	alg, hex, ok := strings.Cut(ref.DigestStr(), ":")
	if !ok {
		return nil, errors.New("a digest without an algorithm")
	}
	server := strings.TrimSuffix(p.ServerURL, "/")
	if server == "" {
		server = "https://github.com"
	}
	repoURL := server + "/" + p.Repository
	// GITHUB_WORKFLOW_REF is owner/repo/<path>@<ref>.
	workflow, workflowRef, _ := strings.Cut(p.WorkflowRef, "@")
	path := strings.TrimPrefix(workflow, p.Repository+"/")
	if workflowRef == "" {
		workflowRef = p.Ref
	}
	var inputs map[string]string
	if len(p.Inputs) > 0 {
		inputs = maps.Clone(p.Inputs)
	}
	invocation := repoURL + "/actions/runs/" + p.RunID
	if p.RunAttempt != "" {
		invocation += "/attempts/" + p.RunAttempt
	}
	source := "git+" + repoURL
	if p.Ref != "" {
		source += "@" + p.Ref
	}
	pred := slsaPredicate{
		BuildDefinition: slsaBuildDefinition{
			BuildType: BuildType,
			ExternalParameters: slsaExternal{
				Workflow:  slsaWorkflow{Repository: repoURL, Path: path, Ref: workflowRef},
				EventName: p.EventName,
				Inputs:    inputs,
			},
			ResolvedDependencies: []slsaResourceDesc{{URI: source, Digest: map[string]string{"gitCommit": p.Commit}}},
		},
		RunDetails: slsaRunDetails{
			Builder:  slsaBuilder{ID: server + "/" + p.WorkflowRef},
			Metadata: slsaMetadata{InvocationID: invocation},
		},
	}
	if !p.StartedOn.IsZero() {
		pred.RunDetails.Metadata.StartedOn = p.StartedOn.UTC().Format(time.RFC3339)
	}
	raw, err := json.Marshal(pred)
	if err != nil {
		return nil, err
	}
	return json.Marshal(statement{
		Type:          inTotoStatementType,
		Subject:       []subject{{Name: ref.Context().Name(), Digest: map[string]string{alg: hex}}},
		PredicateType: PredicateSLSAProvenance,
		Predicate:     raw,
	})
}
