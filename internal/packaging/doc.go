// Package packaging owns the checks that keep fleetpush's delivery files honest: the Dockerfile
// follows GitHub's rules for docker actions and builds the binary exactly as hack/build.sh does,
// action.yml exposes the documented interface, the README's inputs table is generated from
// action.yml, and the example workflows pass actionlint against that action.yml.
//
// It holds no runtime code of the action: the binary never imports it.
package packaging
