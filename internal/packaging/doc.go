// Package packaging owns fleetpush's delivery files and the checks that keep them honest:
// action.yml and the README's inputs and outputs tables are generated from the option and output
// tables of internal/config (go generate ./internal/packaging; a test and CI fail when the
// committed files differ), the Dockerfile follows GitHub's rules for docker actions and builds
// the binary exactly as hack/build.sh does, and the example workflows pass actionlint against
// the generated action.yml.
//
// It holds no runtime code of the action: the binary never imports it.
package packaging

//go:generate go run ./gen
