module github.com/fleetpush/fleetpush

go 1.26.8

require (
	github.com/blang/semver/v4 v4.0.0 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/google/go-containerregistry v0.22.1 // indirect
	github.com/sethvargo/go-githubactions v1.3.0 // indirect
	github.com/sigstore/cosign/v2 v2.6.5 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/mod v0.43.0 // indirect
	sigs.k8s.io/kustomize/api v0.21.2 // indirect
)
