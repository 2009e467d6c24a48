package kustomize

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const kustHeader = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:1.27
`

const helmRelease = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: apps
spec:
  interval: ${INTERVAL:=10m}
  chartRef:
    kind: OCIRepository
    name: podinfo
  install:
    remediation:
      retries: ${RETRIES:=3}
  values:
    replicaCount: ${REPLICAS}
`

func TestValidate(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files fstest.MapFS
		want  []string // Finding.String() of every error, in order
	}{
		{
			name: "valid base and overlay with substitutions",
			files: fstest.MapFS{
				"base/kustomization.yaml":    file(kustHeader + "resources:\n  - deploy.yaml\n  - release.yaml\n"),
				"base/deploy.yaml":           file(strings.Replace(deployment, "replicas: 2", "replicas: ${REPLICAS:=2}", 1)),
				"base/release.yaml":          file(helmRelease),
				"staging/kustomization.yaml": file(kustHeader + "resources:\n  - ../base\npatches:\n  - target:\n      kind: Deployment\n      name: web\n    patch: |\n      - op: replace\n        path: /spec/replicas\n        value: 1\n"),
			},
		},
		{
			name: "resource outside the artifact",
			files: fstest.MapFS{
				"base/kustomization.yaml": file(kustHeader + "resources:\n  - deploy.yaml\n  - ../../shared/namespace.yaml\n"),
				"base/deploy.yaml":        file(deployment),
			},
			want: []string{`components/web/base/kustomization.yaml:5: resources: "../../shared/namespace.yaml" is outside the artifact: it would be missing in the cluster`},
		},
		{
			name: "missing file",
			files: fstest.MapFS{
				"base/kustomization.yaml": file(kustHeader + "resources:\n  - deploy.yaml\n  - service.yaml\n"),
				"base/deploy.yaml":        file(deployment),
			},
			want: []string{`components/web/base/kustomization.yaml:5: resources: "service.yaml" does not exist in the artifact: it would be missing in the cluster`},
		},
		{
			name: "typo in a HelmRelease field",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - release.yaml\n"),
				"release.yaml":       file(strings.Replace(helmRelease, "chartRef:", "chartRefs:", 1)),
			},
			want: []string{`components/web/release.yaml:8: HelmRelease/podinfo: spec.chartRefs: unknown field`},
		},
		{
			name: "wrong type in a Deployment",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - deploy.yaml\n"),
				"deploy.yaml":        file(strings.Replace(deployment, "replicas: 2", `replicas: "two"`, 1)),
			},
			want: []string{`components/web/deploy.yaml:6: Deployment/web: spec.replicas: wrong type: got string "two", want integer`},
		},
		{
			name: "wrong type set by an overlay patch",
			files: fstest.MapFS{
				"base/kustomization.yaml":    file(kustHeader + "resources:\n  - deploy.yaml\n"),
				"base/deploy.yaml":           file(deployment),
				"staging/kustomization.yaml": file(kustHeader + "resources:\n  - ../base\npatches:\n  - path: replicas.yaml\n"),
				"staging/replicas.yaml":      file("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: true\n"),
			},
			want: []string{`components/web/staging/replicas.yaml:6: Deployment/web: spec.replicas: wrong type: got bool true, want integer`},
		},
		{
			name: "duplicate object",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - a.yaml\n  - b.yaml\n"),
				"a.yaml":             file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n"),
				"b.yaml":             file("# the same again\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  b: \"2\"\n"),
			},
			want: []string{`components/web/b.yaml:2: ConfigMap/settings: duplicate object: also defined at components/web/a.yaml:1`},
		},
		{
			name: "plain Secret",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - secret.yaml\n  - sops.yaml\n"),
				"secret.yaml":        file("apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\nstringData:\n  token: hunter2\n"),
				"sops.yaml":          file("apiVersion: v1\nkind: Secret\nmetadata:\n  name: sealed\ndata:\n  token: ENC[AES256_GCM,data:abc=,type:str]\nsops:\n  age:\n    - recipient: age1xyz\n  version: 3.9.0\n"),
			},
			want: []string{`components/web/secret.yaml:5: Secret/token: plain-text stringData in a Secret would be readable by every cluster and by anyone who can pull the artifact: encrypt it with SOPS`},
		},
		{
			name: "remote bases",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - https://github.com/acme/infra//base?ref=v1.0.0\n  - github.com/acme/infra/base\n  - git@github.com:acme/infra.git//base\npatches:\n  - path: https://example.com/patch.yaml\n"),
			},
			want: []string{
				`components/web/kustomization.yaml:4: resources: remote "https://github.com/acme/infra//base?ref=v1.0.0" is not allowed: remote bases and URLs are fetched at build time, outside the artifact; copy the files into the repository`,
				`components/web/kustomization.yaml:5: resources: remote "github.com/acme/infra/base" is not allowed: remote bases and URLs are fetched at build time, outside the artifact; copy the files into the repository`,
				`components/web/kustomization.yaml:6: resources: remote "git@github.com:acme/infra.git//base" is not allowed: remote bases and URLs are fetched at build time, outside the artifact; copy the files into the repository`,
				`components/web/kustomization.yaml:8: patches: remote "https://example.com/patch.yaml" is not allowed: remote bases and URLs are fetched at build time, outside the artifact; copy the files into the repository`,
			},
		},
		{
			name: "malformed YAML",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - cm.yaml\n"),
				"cm.yaml":            file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: [1, 2\n"),
			},
			want: []string{`components/web/cm.yaml:6: malformed YAML: did not find expected ',' or ']'`},
		},
		{
			name: "malformed YAML outside kustomize folders",
			files: fstest.MapFS{
				"clusters/notes.yaml": file("a: b\n c: d\n"),
			},
			want: []string{`components/web/clusters/notes.yaml:2: malformed YAML: mapping values are not allowed in this context`},
		},
		{
			name: "patch target matches nothing",
			files: fstest.MapFS{
				"base/kustomization.yaml":    file(kustHeader + "resources:\n  - deploy.yaml\n"),
				"base/deploy.yaml":           file(deployment),
				"staging/kustomization.yaml": file(kustHeader + "resources:\n  - ../base\npatches:\n  - target:\n      kind: Deployment\n      name: webb\n    patch: |\n      - op: replace\n        path: /spec/replicas\n        value: 1\n"),
			},
			want: []string{`components/web/staging/kustomization.yaml:6: patches[0]: target kind=Deployment name=webb matches no object: the patch would change nothing`},
		},
		{
			name: "missing metadata.name",
			files: fstest.MapFS{
				"kustomization.yaml": file(kustHeader + "resources:\n  - ns.yaml\n"),
				"ns.yaml":            file("apiVersion: v1\nkind: Namespace\nmetadata:\n  labels:\n    team: web\n"),
			},
			want: []string{`components/web/ns.yaml:1: Namespace: metadata.name is missing`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			findings, err := v.Validate(context.Background(), tc.files, Options{Prefix: "components/web/"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				if f.Severity == Error {
					got = append(got, f.String())
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
