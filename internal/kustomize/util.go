package kustomize

import "slices"

func sortStrings(s []string) { slices.Sort(s) }

func sortedKeysBool(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
