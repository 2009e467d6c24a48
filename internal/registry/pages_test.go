package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// TestPageGuard: the rules that end a listing, on plain values.
func TestPageGuard(t *testing.T) {
	t.Parallel()
	type page struct {
		tags []string
		next string
	}
	for _, tc := range []struct {
		name    string
		max     int
		pages   []page
		want    []string
		wantErr string
	}{
		{name: "one page", max: 3, pages: []page{{[]string{"a", "b"}, ""}}, want: []string{"a", "b"}},
		{name: "three pages", max: 3, pages: []page{{[]string{"a"}, "/1"}, {[]string{"b"}, "/2"}, {[]string{"c"}, ""}}, want: []string{"a", "b", "c"}},
		{name: "empty repository", max: 3, pages: []page{{nil, ""}}},
		{name: "a repeated tag is listed once", max: 3, pages: []page{{[]string{"a", "b"}, "/1"}, {[]string{"b", "c"}, ""}}, want: []string{"a", "b", "c"}},
		{name: "past the page limit", max: 2, pages: []page{{[]string{"a"}, "/1"}, {[]string{"b"}, "/2"}, {[]string{"c"}, ""}}, wantErr: "more than 2 pages (2 entries so far), the most this run follows: raise max-tag-pages"},
		{name: "a link seen before", max: 10, pages: []page{{[]string{"a"}, "/1"}, {[]string{"b"}, "/1"}}, wantErr: "repeats a page it sent before (a loop)"},
		{name: "a page that does not advance", max: 10, pages: []page{{[]string{"a"}, "/1"}, {[]string{"a"}, "/2"}}, wantErr: "page 2 lists nothing new yet links a next page"},
		{name: "an empty page with a next link", max: 10, pages: []page{{nil, "/1"}}, wantErr: "page 1 lists nothing new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newPageGuard("the tags of r", tc.max)
			var got []string
			var err error
			for _, p := range tc.pages {
				var fresh []string
				var more bool
				fresh, more, err = g.add(p.tags, p.next)
				got = append(got, fresh...)
				if err != nil || !more {
					break
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "listing the tags of r") {
					t.Fatalf("error = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("tags = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzPageGuard: whatever pages a registry sends, a listing ends within the page limit, lists
// no tag twice, and ends with either the last page or an error.
func FuzzPageGuard(f *testing.F) {
	f.Add([]byte("a,b|/1;c|/1"), uint8(5))
	f.Add([]byte("a|/1;a|/2"), uint8(5))
	f.Add([]byte(";;;"), uint8(1))
	f.Fuzz(func(t *testing.T, script []byte, max uint8) {
		g := newPageGuard("x", int(max))
		limit := int(max)
		if limit == 0 {
			limit = DefaultMaxTagPages
		}
		seen := map[string]bool{}
		pages := strings.Split(string(script), ";")
		for i := 0; ; i++ {
			p := pages[i%len(pages)] // a script shorter than the listing repeats: a server that never ends
			tagsPart, next, _ := strings.Cut(p, "|")
			var tags []string
			if tagsPart != "" {
				tags = strings.Split(tagsPart, ",")
			}
			if i >= len(pages) && next != "" {
				next += "#" + strconv.Itoa(i) // fresh links, so only the other rules can stop it
			}
			fresh, more, err := g.add(tags, next)
			for _, tag := range fresh {
				if seen[tag] {
					t.Fatalf("tag %q listed twice", tag)
				}
				seen[tag] = true
			}
			if err != nil || !more {
				return
			}
			if i+1 >= limit {
				t.Fatalf("page %d asks for more past the limit of %d", i+1, limit)
			}
		}
	})
}

// endlessTags serves tag pages forever, each linking to the next, in one of several hostile
// shapes; it counts the pages it served.
type endlessTags struct {
	shape string // "loop": the same link; "fresh": new tags and links forever; "stuck": new links, same tags
	pages atomic.Int64
}

func (e *endlessTags) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v2/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if !strings.HasSuffix(r.URL.Path, "/tags/list") {
		http.NotFound(w, r)
		return
	}
	n := e.pages.Add(1)
	var tags []string
	link := r.URL.Path + "?last=x"
	switch e.shape {
	case "loop":
		tags = []string{"t" + strconv.FormatInt(n, 10)}
	case "fresh":
		tags = []string{"t" + strconv.FormatInt(n, 10)}
		link = r.URL.Path + "?last=t" + strconv.FormatInt(n, 10)
	case "stuck":
		tags = []string{"same"}
		link = r.URL.Path + "?last=t" + strconv.FormatInt(n, 10)
	}
	w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, link))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"name": "acme/app", "tags": tags})
}

// TestTagsEndlessRegistry: a registry whose tag list never ends (a loop of links, pages forever,
// a page that does not advance) stops the listing with a clear error after a bounded number of
// requests, through the Store and through the referrers tag schema's listing alike.
func TestTagsEndlessRegistry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		shape, want string
		pages       int64
	}{
		{"loop", "repeats a page it sent before (a loop)", 2},
		{"fresh", "more than 5 pages (5 entries so far), the most this run follows: raise max-tag-pages", 5},
		{"stuck", "page 2 lists nothing new yet links a next page", 2},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			t.Parallel()
			h := &endlessTags{shape: tc.shape}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "http://")
			c := New(WithMaxTagPages(5))
			s, err := c.Open(host + "/acme/app")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Tags(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "listing the tags of "+host+"/acme/app") {
				t.Fatalf("Tags = %v, want an error saying %q", err, tc.want)
			}
			if got := h.pages.Load(); got != tc.pages {
				t.Errorf("the registry served %d pages, want %d", got, tc.pages)
			}
		})
	}
}

// TestTagsPagesWithinLimit: a real paginated listing within the limit lists every tag once.
func TestTagsPagesWithinLimit(t *testing.T) {
	t.Parallel()
	p := &pager{n: 2}
	host := memRegistry(t, func(h http.Handler) http.Handler { p.next = h; return p })
	c := New(WithMaxTagPages(3))
	s, err := c.Open(host + "/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	m := mustPush(t, s, fluxImage(t, "x"))
	for _, tag := range []string{"a", "b", "c", "d", "e"} {
		mustTag(t, s, m, tag)
	}
	if got := strings.Join(mustTags(t, s), ","); got != "a,b,c,d,e" {
		t.Errorf("tags = %q over 3 pages of 2", got)
	}
	mustTag(t, s, m, "f") // 6 tags: the third page is full and links a fourth
	mustTag(t, s, m, "g")
	if _, err := s.Tags(context.Background()); err == nil || !strings.Contains(err.Error(), "more than 3 pages") {
		t.Errorf("Tags of 7 tags in pages of 2 with a limit of 3 = %v, want the page limit", err)
	}
}

// TestNextLink: the Link header forms registries send, and the ones that must be refused.
func TestNextLink(t *testing.T) {
	t.Parallel()
	page, _ := url.Parse("https://r.example/v2/a/tags/list?n=100")
	for _, tc := range []struct{ header, want, wantErr string }{
		{"", "", ""},
		{`</v2/a/tags/list?last=b&n=100>; rel="next"`, "https://r.example/v2/a/tags/list?last=b&n=100", ""},
		{`<https://r.example/v2/a/tags/list?last=b>; rel=next`, "https://r.example/v2/a/tags/list?last=b", ""},
		{`</prev>; rel="prev", </next>; rel="next"`, "https://r.example/next", ""},
		{`</a,b>; rel="next"`, "https://r.example/a,b", ""},
		{`</x>; rel="prev"`, "", ""},
		{`</x>; REL="Next"`, "https://r.example/x", ""},
		{`<https://other.example/v2/a/tags/list>; rel="next"`, "", "not on the registry"},
		{`<http://r.example/v2/a/tags/list>; rel="next"`, "", "not on the registry"},
		{`/v2/a/tags/list; rel="next"`, "", "does not start with <url>"},
		{`</v2/a/tags/list; rel="next"`, "", "no closing >"},
	} {
		got, err := nextLink(tc.header, page)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("nextLink(%q) = %q, %v; want an error saying %q", tc.header, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("nextLink(%q) = %q, %v; want %q", tc.header, got, err, tc.want)
		}
	}
}

// FuzzNextLink: whatever the header, nextLink returns a link on the page's own scheme and host,
// or none, or an error; it never panics.
func FuzzNextLink(f *testing.F) {
	f.Add(`</v2/a/tags/list?last=b&n=100>; rel="next"`)
	f.Add(`</prev>; rel="prev", </next>; rel="next"`)
	f.Add(`<https://other/x>; rel=next`)
	f.Add(`<<>>,,;rel=next`)
	page, _ := url.Parse("https://r.example/v2/a/tags/list")
	f.Fuzz(func(t *testing.T, header string) {
		got, err := nextLink(header, page)
		if err != nil || got == "" {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil || u.Scheme != "https" || u.Host != "r.example" {
			t.Fatalf("nextLink(%q) = %q: not on the page's registry", header, got)
		}
	})
}
