package registry

import (
	"context"
	"fmt"
	"net/url"
	"strings"

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

// maxReferrerPages bounds the pages of one referrers listing: a registry that pages its
// referrers lists dozens a page, and maxReferrers bounds the whole list anyway.
const maxReferrerPages = 100

// nextLink returns the URL of the next page a Link header names (RFC 8288, as the distribution
// spec uses it: `<url>; rel="next"`), resolved against the URL of the page that carried it, or
// "" when there is none. A link to another host or scheme is refused: the next page is asked of
// the same registry, with the same credentials.
func nextLink(header string, page *url.URL) (string, error) {
	for _, part := range splitLinks(header) {
		part = strings.TrimSpace(part)
		if !strings.HasPrefix(part, "<") {
			return "", fmt.Errorf("the Link header %q does not start with <url>", clip(header))
		}
		end := strings.IndexByte(part, '>')
		if end < 0 {
			return "", fmt.Errorf("the Link header %q has no closing >", clip(header))
		}
		target, params := part[1:end], part[end+1:]
		if !relNext(params) {
			continue
		}
		u, err := url.Parse(target)
		if err != nil {
			return "", fmt.Errorf("the Link header's next page %q is not a URL: %w", clip(target), err)
		}
		u = page.ResolveReference(u)
		if u.Scheme != page.Scheme || u.Host != page.Host {
			return "", fmt.Errorf("the Link header's next page is on %s://%s, not on the registry %s://%s", u.Scheme, u.Host, page.Scheme, page.Host)
		}
		return u.String(), nil
	}
	return "", nil
}

// splitLinks splits a Link header at the commas between its links, not those inside <url>.
func splitLinks(h string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(h); i++ {
		switch h[i] {
		case '<':
			depth++
		case '>':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				parts = append(parts, h[start:i])
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(h[start:]); rest != "" {
		parts = append(parts, h[start:])
	}
	return parts
}

// relNext reports whether a link's parameters say rel="next" (or rel=next, among other rels).
func relNext(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
			continue
		}
		for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
	}
	return false
}

// clip shortens what a server sent for an error message.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
