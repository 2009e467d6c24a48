package artifact

import (
	"bufio"
	"fmt"
	"path"
	"strings"
)

// DefaultIgnore is the ignore list Flux's "flux push artifact" uses when no
// --ignore-paths are given; Build always applies it before user patterns.
var DefaultIgnore = []string{
	".git/", ".gitignore", ".gitmodules", ".gitattributes",
	"*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
}

// ignorePattern is one parsed gitignore line.
type ignorePattern struct {
	segments []string // the pattern split at "/"
	negate   bool     // "!pattern": re-include
	dirOnly  bool     // "pattern/": the last matched segment must be a directory
	anchored bool     // the pattern held a "/": matched segment by segment from the root
	text     string   // the line as written, to name in errors
	builtin  bool     // one of DefaultIgnore
}

// matcher decides whether a path is left out of the artifact. Patterns are in
// increasing priority: the last one that matches a path decides.
type matcher struct {
	patterns []ignorePattern
	// prunable is true when no pattern re-includes anything: then everything
	// below an ignored directory is ignored too and the walk can skip it.
	prunable bool
}

// newMatcher parses patterns, one or more per string (split at line ends),
// skipping blank lines and "#" comments, the way Flux reads --ignore-paths.
func newMatcher(patterns []string) *matcher {
	m := &matcher{prunable: true}
	m.add(patterns, false)
	return m
}

// newBuildMatcher is the matcher of a build: Flux's defaults, then the
// user's patterns.
func newBuildMatcher(user []string) *matcher {
	m := &matcher{prunable: true}
	m.add(DefaultIgnore, true)
	m.add(user, false)
	return m
}

func (m *matcher) add(patterns []string, builtin bool) {
	for _, block := range patterns {
		sc := bufio.NewScanner(strings.NewReader(block))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			p := parseIgnorePattern(line)
			p.text, p.builtin = line, builtin
			if p.negate {
				m.prunable = false
			}
			m.patterns = append(m.patterns, p)
		}
	}
}

func parseIgnorePattern(s string) ignorePattern {
	var p ignorePattern
	if rest, ok := strings.CutPrefix(s, "!"); ok {
		p.negate = true
		s = rest
	}
	if !strings.HasSuffix(s, `\ `) {
		s = strings.TrimRight(s, " ")
	}
	if rest, ok := strings.CutSuffix(s, "/"); ok {
		p.dirOnly = true
		s = rest
	}
	p.anchored = strings.Contains(s, "/")
	p.segments = strings.Split(s, "/")
	return p
}

// ignored reports whether the slash-separated relative path rel (never ".")
// is left out of the artifact.
func (m *matcher) ignored(rel string, isDir bool) bool {
	return m.decider(rel, isDir) != nil
}

// rule describes the pattern that leaves rel out, for an error, or "".
func (m *matcher) rule(rel string, isDir bool) string {
	p := m.decider(rel, isDir)
	switch {
	case p == nil:
		return ""
	case p.builtin:
		return fmt.Sprintf("%q (a Flux default)", p.text)
	}
	return fmt.Sprintf("%q (ignore-paths)", p.text)
}

// decider returns the pattern that leaves rel out, or nil when rel is kept.
func (m *matcher) decider(rel string, isDir bool) *ignorePattern {
	segs := strings.Split(rel, "/")
	for i := len(m.patterns) - 1; i >= 0; i-- {
		p := &m.patterns[i]
		if p.match(segs, isDir) {
			if p.negate {
				return nil
			}
			return p
		}
	}
	return nil
}

func (p *ignorePattern) match(segs []string, isDir bool) bool {
	if p.anchored {
		return p.matchAnchored(segs, isDir)
	}
	return p.matchAnySegment(segs, isDir)
}

// matchAnySegment: a pattern without "/" matches when any segment matches it;
// a directory-only pattern may not match on the final segment of a file.
func (p *ignorePattern) matchAnySegment(segs []string, isDir bool) bool {
	for i, s := range segs {
		ok, err := path.Match(p.segments[0], s)
		if err != nil {
			return false
		}
		if !ok {
			continue
		}
		// The first matching segment decides, as in Flux's matcher.
		return !(p.dirOnly && !isDir && i == len(segs)-1)
	}
	return false
}

// matchAnchored walks the pattern's segments against the path's from the
// root. "**" lets the next segment match any later path segment; once the
// pattern is used up the remaining path segments do not matter.
func (p *ignorePattern) matchAnchored(segs []string, isDir bool) bool {
	matched, skipping := false, false
	for i, ps := range p.segments {
		switch {
		case ps == "":
			skipping = false
			continue
		case ps == "**":
			if i == len(p.segments)-1 {
				// A trailing "/**" matches whatever matched so far and below.
				return p.finish(matched, segs, isDir)
			}
			skipping = true
			continue
		case strings.Contains(ps, "**"):
			return false
		case len(segs) == 0:
			return false
		}
		if skipping {
			skipping = false
			found := false
			for len(segs) > 0 {
				s := segs[0]
				segs = segs[1:]
				ok, err := path.Match(ps, s)
				if err != nil {
					return false
				}
				if ok {
					found = true
					break
				}
			}
			matched = found
			if !found {
				return false
			}
			continue
		}
		ok, err := path.Match(ps, segs[0])
		if err != nil || !ok {
			return false
		}
		matched = true
		segs = segs[1:]
	}
	return p.finish(matched, segs, isDir)
}

func (p *ignorePattern) finish(matched bool, rest []string, isDir bool) bool {
	if matched && p.dirOnly && !isDir && len(rest) == 0 {
		return false
	}
	return matched
}
