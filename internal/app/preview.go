package app

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sync"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/fleetpush/fleetpush/internal/kustomize"
	"github.com/fleetpush/fleetpush/internal/preview"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
)

// previewer compares a component's build with the artifact its channel tag serves now.
type previewer struct {
	tag    string // the diff-against tag
	stores *stores
	build  *builder
	limits artifact.Limits
}

// newPreviewer returns nil when the preview is off: diff-against is none, or the run is neither
// on a pull request nor asked for a preview (a laptop's validate, a push's).
func newPreviewer(cfg *config.Config, event string, st *stores, b *builder) *previewer {
	pullRequest := event == "pull_request" || event == "pull_request_target"
	if cfg.DiffAgainst == "" || cfg.DiffAgainst == config.DiffNone || !pullRequest && (cfg.GitHub.Actions || !cfg.DiffAgainstGiven) {
		return nil
	}
	return &previewer{tag: cfg.DiffAgainst, stores: st, build: b, limits: b.limits}
}

// collector gathers what the builds of one artifact render, folder by folder.
type collector struct {
	mu   sync.Mutex
	side preview.Side
}

func (c *collector) add(dir string, objs [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.side == nil {
		c.side = preview.Side{}
	}
	c.side[dir] = objs
}

// compare reads what the channel serves and compares it with the pull request's build (its layer
// and what validation rendered). The registry failing to answer is a warning in the preview, never
// an error of the run: validation alone decides the exit code.
func (p *previewer) compare(ctx context.Context, c component.Component, layer *artifact.Layer, rendered preview.Side) *report.Preview {
	ref := p.stores.target(c) + ":" + p.tag
	if p.stores.isLayout {
		ref = p.stores.target(c) + " (tag " + p.tag + ")"
	}
	out := &report.Preview{Against: ref}
	old, err := p.published(ctx, c)
	if err != nil {
		out.Warning = fmt.Sprintf("reading %s: %v; validation ran as usual", ref, err)
		return out
	}
	var oldSide preview.Side
	var oldFiles map[string][]byte
	if old != nil {
		out.Published = true
		if oldSide, err = p.render(ctx, c, old); err != nil {
			out.Warning = fmt.Sprintf("rendering %s: %v", ref, err)
			return out
		}
		oldFiles = filesOf(old)
	}
	newFiles := filesOf(layer)
	// A folder of the pull request that did not build (validation reported why) would otherwise
	// look as if it removed every object: it is left out of the comparison and named instead.
	for dir := range oldSide {
		if _, built := rendered[dir]; !built && hasKustomization(newFiles, dir) {
			delete(oldSide, dir)
			out.Unbuilt = append(out.Unbuilt, dir)
		}
	}
	slices.Sort(out.Unbuilt)
	out.Component = preview.Compare(oldSide, rendered, oldFiles, newFiles)
	return out
}

// hasKustomization reports whether folder dir of the artifact holds a kustomization file.
func hasKustomization(files map[string][]byte, dir string) bool {
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, ok := files[path.Join(dir, n)]; ok {
			return true
		}
	}
	return false
}

func filesOf(l *artifact.Layer) map[string][]byte {
	m := make(map[string][]byte, len(l.Files))
	for _, f := range l.Files {
		if !f.Dir {
			m[f.Path] = f.Data
		}
	}
	return m
}

// render renders every kustomization folder of a published artifact as validate does. Its
// findings are not this pull request's: they are dropped. The published artifact is as hostile
// as the pull request, so its decoding draws on the run's budget too.
func (p *previewer) render(ctx context.Context, c component.Component, l *artifact.Layer) (preview.Side, error) {
	v, err := p.build.kustomizer()
	if err != nil {
		return nil, err
	}
	var col collector
	if _, err := v.Validate(ctx, l.FS(), kustomize.Options{Prefix: p.build.prefix(c), Budget: p.build.budget, Component: c.Name, Rendered: col.add}); err != nil {
		return nil, err
	}
	return col.side, nil
}

// published reads the artifact at the channel tag into memory: nil when nothing is published
// there yet (a new component, or a channel never set). The layer is bounded by max-size as it
// is read and decoded with the rules of a build.
func (p *previewer) published(ctx context.Context, c component.Component) (*artifact.Layer, error) {
	ref := p.stores.target(c)
	st, err := p.stores.open(ref)
	if err != nil {
		return nil, err
	}
	m, err := st.Get(ctx, p.tag)
	if err != nil || m == nil {
		return nil, err
	}
	if m.Parsed == nil || len(m.Parsed.Layers) != 1 || string(m.Parsed.Config.MediaType) != artifact.ConfigMediaType {
		return nil, fmt.Errorf("the tag holds no Flux artifact (a manifest with config %s and one content layer)", artifact.ConfigMediaType)
	}
	desc := m.Parsed.Layers[0]
	if string(desc.MediaType) != artifact.ContentMediaType {
		return nil, fmt.Errorf("the layer's media type is %q, not %s", desc.MediaType, artifact.ContentMediaType)
	}
	limit := previewBlobLimit(p.limits)
	var blob []byte
	if p.stores.isLayout {
		blob, err = registry.ReadLayoutBlob(filepath.Join(p.stores.layout, c.Name), desc, limit)
	} else {
		repo, rerr := p.stores.client.Repository(ref)
		if rerr != nil {
			return nil, rerr
		}
		blob, err = registry.FetchBlob(ctx, repo, desc, limit, p.stores.client.RemoteOptions()...)
	}
	if err != nil {
		return nil, err
	}
	l, err := artifact.Read(blob, p.limits)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// previewBlobLimit bounds the published layer a preview reads: gzip cannot make a tar of max-size
// bytes much larger, and a blob past this is not ours. It is the registry client's bound on every
// blob it reads (one bound, not two), for an OCI layout folder too.
func previewBlobLimit(l artifact.Limits) int64 {
	maxBytes := l.MaxBytes
	if maxBytes <= 0 {
		maxBytes = artifact.DefaultMaxBytes
	}
	return registry.BlobLimit(maxBytes)
}
