package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Pruner is the part of a registry repository that prune needs besides a Store: deletes, and
// what hangs off a digest. An OCI layout folder is not one: prune works on registries.
type Pruner interface {
	Store
	// DeleteTag removes tag alone, leaving the manifest it points at. A tag already gone is no
	// error. A registry that cannot delete a tag alone answers ErrTagDeleteUnsupported.
	DeleteTag(ctx context.Context, tag string) error
	// DeleteManifest removes the manifest d. A distribution registry removes every tag that
	// points at it with it. A manifest already gone is no error; a registry that refuses
	// deletes answers an error wrapping ErrDeleteUnsupported.
	DeleteManifest(ctx context.Context, d v1.Hash) error
	// Exists reports whether the manifest d exists: false only when the registry answers 404,
	// an error for any other failure.
	Exists(ctx context.Context, d v1.Hash) (bool, error)
	// Referrers lists the referrers of d (the referrers API, else the referrers tag schema).
	Referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error)
}

// ErrDeleteUnsupported is a registry refusing to delete manifests through the OCI API.
var ErrDeleteUnsupported = errors.New("the registry does not delete manifests through the OCI distribution API")

// ErrTagDeleteUnsupported is a registry that deletes manifests but not a tag alone.
var ErrTagDeleteUnsupported = errors.New("the registry does not delete a tag alone")

// deleteUnsupported reports whether a DELETE was refused because the registry does not do
// deletes (405 Method Not Allowed, or the UNSUPPORTED error code, which distribution answers
// when deletes are not enabled in its configuration).
func deleteUnsupported(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusMethodNotAllowed {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.UnsupportedErrorCode {
			return true
		}
	}
	return false
}

func (s *remoteStore) DeleteTag(ctx context.Context, tag string) error {
	ref := s.repo.Tag(tag)
	err := remote.Delete(ref, s.opts(ctx)...)
	switch {
	case err == nil, IsNotFound(err):
		return nil
	case deleteUnsupported(err), isBadRequest(err):
		// distribution 2.x answers 400 (a tag is not a digest); others 405.
		return fmt.Errorf("deleting the tag %q: %w", ref, ErrTagDeleteUnsupported)
	}
	return fmt.Errorf("deleting the tag %q: %w", ref, explain(err))
}

func isBadRequest(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusBadRequest
}

func (s *remoteStore) DeleteManifest(ctx context.Context, d v1.Hash) error {
	ref := s.repo.Digest(d.String())
	err := remote.Delete(ref, s.opts(ctx)...)
	switch {
	case err == nil, IsNotFound(err):
		return nil
	case deleteUnsupported(err):
		hint := "enable deletes on the registry (distribution: storage.delete.enabled, REGISTRY_STORAGE_DELETE_ENABLED=true)"
		if s.repo.RegistryStr() == "ghcr.io" {
			hint = "ghcr.io deletes through the GitHub Packages API only"
		}
		return fmt.Errorf("deleting %q: %w: %s (%v)", ref, ErrDeleteUnsupported, hint, err)
	}
	return fmt.Errorf("deleting %q: %w", ref, explain(err))
}

func (s *remoteStore) Exists(ctx context.Context, d v1.Hash) (bool, error) {
	ref := s.repo.Digest(d.String())
	_, err := remote.Head(ref, s.opts(ctx)...)
	switch {
	case err == nil:
		return true, nil
	case statusNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("checking %q: %w", ref, explain(err))
}

// statusNotFound is a plain 404 answer: unlike IsNotFound it does not read error codes,
// because a HEAD answer has no body, and prune deletes on nothing less than a 404.
func statusNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

func (s *remoteStore) Referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error) {
	rs, err := ListReferrers(ctx, s.repo.Digest(d.String()), s.c.RemoteOptions()...)
	if err != nil {
		return nil, err
	}
	return rs.Manifests, nil
}

// SubjectOf returns the digest an attachment tag hangs off ("sha256-<hex>", "sha256-<hex>.sig",
// ".att", ".sbom", "sha256-<hex>.ref.<hex>"), and false for any other tag.
func SubjectOf(tag string) (v1.Hash, bool) {
	if !IsAttachmentTag(tag) {
		return v1.Hash{}, false
	}
	return v1.Hash{Algorithm: "sha256", Hex: tag[len("sha256-") : len("sha256-")+64]}, true
}

// AttachmentTags returns the tags of all that lists as hanging off d, sorted.
func AttachmentTags(all []string, d v1.Hash) []string {
	var out []string
	for _, t := range all {
		if h, ok := SubjectOf(t); ok && h == d {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// Detached is what DeleteAttachments removed, and what it left and why.
type Detached struct {
	Manifests []v1.Hash // deleted: referrers, signatures, the fallback index
	Bytes     int64     // their manifests' sizes and those of the blobs they reference
	Left      []string  // what was not deleted, each with why
}

// maxAttachmentManifest bounds a signature, referrer or fallback index manifest that prune
// reads: far above what cosign or fleetpush write. It is the cap of every manifest read from a
// registry (ManifestLimit); checked here too for stores that read without that transport.
const maxAttachmentManifest = ManifestLimit

// DeleteAttachments deletes what hangs off subject, whose own manifest is already gone (it was
// deleted, or returned 404: an orphan): its referrers, the manifests at its attachment tags
// (legacy .sig/.att/.sbom, the fallback index and its record tags) and those tags.
//
// A hostile or confused registry must not make it delete anything else: a referrer is deleted
// only when its own manifest names subject as its subject, and no manifest is deleted that
// protected reports (the caller's artifacts: every digest a tag points at). Deleting the
// manifest at an attachment tag removes the tag with it on a distribution registry; a tag
// that survives is deleted alone where the registry can.
func DeleteAttachments(ctx context.Context, p Pruner, subject v1.Hash, tags []string, protected func(v1.Hash) bool) (Detached, error) {
	var out Detached
	var errs []error
	seen := map[v1.Hash]bool{}
	del := func(d v1.Hash, raw []byte) {
		if seen[d] {
			return
		}
		seen[d] = true
		if protected(d) {
			out.Left = append(out.Left, fmt.Sprintf("%s: an artifact of this repository, not an attachment", d))
			return
		}
		if err := p.DeleteManifest(ctx, d); err != nil {
			errs = append(errs, err)
			return
		}
		out.Manifests = append(out.Manifests, d)
		out.Bytes += int64(len(raw)) + blobBytes(raw)
	}

	// Referrers first: the fallback index that lists them goes after, so an interrupted run
	// leaves an index whose subject is gone, which the next prune sweeps.
	rs, err := p.Referrers(ctx, subject)
	if err != nil {
		errs = append(errs, fmt.Errorf("listing what refers to %s: %w", subject, err))
	}
	for _, r := range rs {
		m, err := p.GetDigest(ctx, r.Digest)
		switch {
		case err != nil:
			errs = append(errs, err)
			continue
		case m == nil:
			continue // already gone
		case len(m.Raw) > maxAttachmentManifest:
			out.Left = append(out.Left, fmt.Sprintf("%s: a referrer manifest of %d bytes, more than prune reads", r.Digest, len(m.Raw)))
			continue
		}
		if s, ok := subjectOfManifest(m.Raw); !ok || s != subject {
			out.Left = append(out.Left, fmt.Sprintf("%s: listed as a referrer of %s, but its manifest names another subject", r.Digest, subject))
			continue
		}
		del(r.Digest, m.Raw)
	}
	// Then every attachment tag: the manifest it points at, and the tag if it survives.
	for _, t := range tags {
		if h, ok := SubjectOf(t); !ok || h != subject {
			continue
		}
		if deletedReferrerTag(t, subject, out.Manifests) {
			// The tag that records a referrer just deleted: it went with that manifest (two
			// requests per version saved: a GET answering 404 and a DELETE of the tag). A
			// registry that keeps the tags of a deleted manifest leaves it listed with its
			// subject gone: an orphan the next prune sweeps.
			continue
		}
		m, err := p.Get(ctx, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if m == nil {
			// Listed but unreadable: a registry that kept the tag of a deleted manifest.
			if err := p.DeleteTag(ctx, t); err != nil && !errors.Is(err, ErrTagDeleteUnsupported) {
				errs = append(errs, err)
			}
			continue
		}
		if len(m.Raw) > maxAttachmentManifest {
			out.Left = append(out.Left, fmt.Sprintf("%s: %d bytes, more than prune reads", t, len(m.Raw)))
			continue
		}
		if s, ok := subjectOfManifest(m.Raw); ok && s != subject {
			out.Left = append(out.Left, fmt.Sprintf("%s: its manifest names another subject (%s)", t, s))
			continue
		}
		// A registry that keeps the tags of a deleted manifest leaves t listed but unreadable:
		// the next prune's plan finds it and deletes the tag alone.
		del(m.Digest, m.Raw)
	}
	return out, errors.Join(errs...)
}

// deletedReferrerTag reports whether t is the tag that records one of the referrers of subject
// in deleted (sha256-<subject hex>.ref.<the first refTagHex hex digits of its digest>).
func deletedReferrerTag(t string, subject v1.Hash, deleted []v1.Hash) bool {
	suffix, ok := strings.CutPrefix(t, "sha256-"+subject.Hex+refTagInfix)
	if !ok || len(suffix) != refTagHex {
		return false
	}
	for _, d := range deleted {
		if strings.HasPrefix(d.Hex, suffix) {
			return true
		}
	}
	return false
}

// subjectOfManifest returns the subject a manifest names, if any.
func subjectOfManifest(raw []byte) (v1.Hash, bool) {
	var probe struct {
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
	}
	if json.Unmarshal(raw, &probe) != nil || probe.Subject == nil {
		return v1.Hash{}, false
	}
	h, err := v1.NewHash(probe.Subject.Digest)
	return h, err == nil
}

// blobBytes is the sum of the config and layer sizes a manifest names (0 for an index).
func blobBytes(raw []byte) int64 {
	var probe struct {
		Config struct {
			Size int64 `json:"size"`
		} `json:"config"`
		Layers []struct {
			Size int64 `json:"size"`
		} `json:"layers"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return 0
	}
	n := max(probe.Config.Size, 0)
	for _, l := range probe.Layers {
		n += max(l.Size, 0)
	}
	return n
}
