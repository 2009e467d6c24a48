package sign

import (
	"fmt"
	"regexp"
	"strings"
)

// ExpectedIdentity builds the identity that keyless signatures of this run must carry, from the
// GitHub Actions environment: serverURL (GITHUB_SERVER_URL, default https://github.com),
// repository (GITHUB_REPOSITORY, owner/repo), workflowRef (GITHUB_WORKFLOW_REF,
// owner/repo/.github/workflows/file.yaml@ref) and ref (GITHUB_REF). component names the
// component of a component release.
//
// The subject is anchored to the repository, the workflow file and a ref pattern. A release tag
// `<component>/vX.Y.Z` gives `refs/tags/<component>/v.*`, so that a cluster following one
// component does not accept another component's release; `vX.Y.Z` gives `refs/tags/v.*`; any
// other ref (a branch) is matched exactly.
//
// Fulcio writes the workflow that ran the job into the certificate (job_workflow_ref). When
// fleetpush runs inside a reusable workflow, that is the reusable workflow, not the caller that
// GITHUB_WORKFLOW_REF names; the verification after signing then fails and says so.
func ExpectedIdentity(serverURL, repository, workflowRef, ref, component string) Identity {
	serverURL = strings.TrimSuffix(serverURL, "/")
	if serverURL == "" {
		serverURL = "https://github.com"
	}
	issuer := GitHubIssuer
	if serverURL != "https://github.com" {
		// GitHub Enterprise Server issues tokens from its own host.
		issuer = serverURL + "/_services/token"
	}

	workflow := regexp.QuoteMeta(repository) + `/\.github/workflows/[^/@]+`
	if path, _, ok := strings.Cut(workflowRef, "@"); ok && path != "" {
		workflow = regexp.QuoteMeta(path)
	}
	return Identity{
		Issuer:  "^" + regexp.QuoteMeta(issuer) + "$",
		Subject: "^" + regexp.QuoteMeta(serverURL) + "/" + workflow + "@" + refPattern(ref, component) + "$",
	}
}

// refPattern is the ref part of the subject regexp.
func refPattern(ref, component string) string {
	tag, isTag := strings.CutPrefix(ref, "refs/tags/")
	switch {
	case ref == "":
		return `refs/.+`
	case isTag && component != "" && strings.HasPrefix(tag, component+"/v"):
		return regexp.QuoteMeta("refs/tags/"+component+"/v") + ".*"
	case isTag && strings.HasPrefix(tag, "v") && !strings.Contains(tag, "/"):
		return `refs/tags/v.*`
	default:
		return regexp.QuoteMeta(ref)
	}
}

// keylessSnippet is the OCIRepository verify block for a keyless identity. Single-quoted YAML
// keeps the regexps' backslashes as they are. A private Sigstore (private) needs its trust root
// in the cluster: Flux 2.9 reads it from the Secret trustedRootSecretRef names.
func keylessSnippet(id Identity, private bool) string {
	s := fmt.Sprintf(`verify:
  provider: cosign
  matchOIDCIdentity:
    - issuer: %s
      subject: %s
`, yamlQuote(id.Issuer), yamlQuote(id.Subject))
	if private {
		s += `  # A private Sigstore (Flux 2.9 or later): a Secret in the OCIRepository's namespace
  # holding its trusted_root.json (the trusted-root input, or one made with cosign v3's
  # cosign trusted-root create from fulcio-root and rekor-public-key):
  # kubectl create secret generic sigstore-trusted-root --from-file=trusted_root.json
  trustedRootSecretRef:
    name: sigstore-trusted-root
`
	}
	return s
}

// keySnippet is the OCIRepository verify block for key-based signatures.
const keySnippet = `verify:
  provider: cosign
  secretRef:
    # a Secret in the OCIRepository's namespace holding the public key as cosign.pub:
    # kubectl create secret generic cosign-pub --from-file=cosign.pub
    name: cosign-pub
`

func yamlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
