package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultMaxTagPages bounds the pages of one tag listing: at the 100 tags a page some
// registries cap a page at, 100,000 tags, years of main-branch pushes of a busy component; at
// the 1000 this client asks for, ten times that. A registry that always answers with a next
// page is otherwise followed forever. The max-tag-pages input raises it.
const DefaultMaxTagPages = 1000

// pageGuard follows a paginated listing and stops it when it does not end: past max pages, at a
// next-page link seen before (a loop), or at a page that adds nothing new while asking for
// more (a registry stuck on one page). It is pure, so the rules are tested without a server.
type pageGuard struct {
	what  string // "the tags of ghcr.io/acme/app", for errors
	max   int
	pages int
	links map[string]bool
	seen  map[string]bool
}

func newPageGuard(what string, max int) *pageGuard {
	if max <= 0 {
		max = DefaultMaxTagPages
	}
	return &pageGuard{what: what, max: max, links: map[string]bool{}, seen: map[string]bool{}}
}

// add takes one page: its entries and its link to the next page ("" on the last page). It
// returns the entries not seen on an earlier page, and whether to fetch the next page.
func (g *pageGuard) add(entries []string, next string) (fresh []string, more bool, err error) {
	g.pages++
	for _, e := range entries {
		if !g.seen[e] {
			g.seen[e] = true
			fresh = append(fresh, e)
		}
	}
	if next == "" {
		return fresh, false, nil
	}
	switch {
	case g.links[next]:
		return nil, false, fmt.Errorf("listing %s: the registry's next-page link repeats a page it sent before (a loop): it lists the same pages forever; report it to the registry's operator", g.what)
	case len(fresh) == 0:
		return nil, false, fmt.Errorf("listing %s: page %d lists nothing new yet links a next page: the registry does not advance through its list; report it to the registry's operator", g.what, g.pages)
	case g.pages >= g.max:
		return nil, false, fmt.Errorf("listing %s: more than %d pages (%d entries so far), the most this run follows: raise max-tag-pages if the repository really holds that many tags, or delete old ones (fleetpush prune)", g.what, g.max, len(g.seen))
	}
	g.links[next] = true
	return fresh, true, nil
}

// listTags lists the tags of repo, page by page under a pageGuard of maxPages.
func listTags(ctx context.Context, repo name.Repository, maxPages int, opts []remote.Option) ([]string, error) {
	p, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	l, err := p.Lister(ctx, repo)
	if err != nil {
		return nil, err
	}
	g := newPageGuard("the tags of "+repo.Name(), maxPages)
	tags := []string{}
	for l.HasNext() {
		page, err := l.Next(ctx)
		if err != nil {
			return nil, err
		}
		fresh, more, err := g.add(page.Tags, page.Next)
		if err != nil {
			return nil, err
		}
		tags = append(tags, fresh...)
		if !more {
			break
		}
	}
	return tags, nil
}
