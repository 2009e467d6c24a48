package testenv

import (
	"flag"
	"strconv"
)

// WaitBound raises the default of go test's -parallel to n for a package whose tests spend their
// time waiting on servers and child processes (registries, git, Sigstore), not on the CPU: with
// the default, GOMAXPROCS, a 2-core machine runs two such tests at a time while both mostly
// sleep. A -parallel given on the command line wins. Call it from TestMain, before m.Run.
func WaitBound(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if f := flag.Lookup("test.parallel"); f != nil && !given {
		if cur, err := strconv.Atoi(f.Value.String()); err == nil && cur < n {
			_ = f.Value.Set(strconv.Itoa(n))
		}
	}
}
