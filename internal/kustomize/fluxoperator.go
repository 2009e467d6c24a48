package kustomize

import (
	"reflect"

	kustomize "github.com/fluxcd/pkg/apis/kustomize"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The Flux Operator kinds FluxInstance and ResourceSet (group
// fluxcd.controlplane.io, version v1) are described here field by field
// from the operator's published API reference instead of importing its Go
// module: that module is AGPL-3.0 licensed, and it would raise dozens of
// shared dependencies (sigstore, gRPC, OpenTelemetry) for two types. Only
// the shape matters for strict decoding; the operator validates values.
var fluxOperatorTypes = map[schema.GroupVersionKind]reflect.Type{
	{Group: "fluxcd.controlplane.io", Version: "v1", Kind: "FluxInstance"}: reflect.TypeFor[fluxInstance](),
	{Group: "fluxcd.controlplane.io", Version: "v1", Kind: "ResourceSet"}:  reflect.TypeFor[resourceSet](),
}

type fluxInstance struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              fluxInstanceSpec      `json:"spec,omitempty"`
	Status            *apiextensionsv1.JSON `json:"status,omitempty"`
}

type fluxInstanceSpec struct {
	Distribution     fiDistribution  `json:"distribution"`
	Components       []string        `json:"components,omitempty"`
	CommonMetadata   *commonMetadata `json:"commonMetadata,omitempty"`
	Cluster          *fiCluster      `json:"cluster,omitempty"`
	Sharding         *fiSharding     `json:"sharding,omitempty"`
	Storage          *fiStorage      `json:"storage,omitempty"`
	Kustomize        *fiKustomize    `json:"kustomize,omitempty"`
	Wait             *bool           `json:"wait,omitempty"`
	MigrateResources *bool           `json:"migrateResources,omitempty"`
	Sync             *fiSync         `json:"sync,omitempty"`
}

type fiDistribution struct {
	Version            string `json:"version"`
	Registry           string `json:"registry"`
	Variant            string `json:"variant,omitempty"`
	ImagePullSecret    string `json:"imagePullSecret,omitempty"`
	Artifact           string `json:"artifact,omitempty"`
	ArtifactPullSecret string `json:"artifactPullSecret,omitempty"`
}

type commonMetadata struct {
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

type fiCluster struct {
	Domain                                string `json:"domain,omitempty"`
	Multitenant                           bool   `json:"multitenant,omitempty"`
	MultitenantWorkloadIdentity           bool   `json:"multitenantWorkloadIdentity,omitempty"`
	TenantDefaultServiceAccount           string `json:"tenantDefaultServiceAccount,omitempty"`
	TenantDefaultDecryptionServiceAccount string `json:"tenantDefaultDecryptionServiceAccount,omitempty"`
	TenantDefaultKubeConfigServiceAccount string `json:"tenantDefaultKubeConfigServiceAccount,omitempty"`
	ObjectLevelWorkloadIdentity           bool   `json:"objectLevelWorkloadIdentity,omitempty"`
	NetworkPolicy                         bool   `json:"networkPolicy"`
	Type                                  string `json:"type,omitempty"`
	Size                                  string `json:"size,omitempty"`
}

type fiSharding struct {
	Key     string   `json:"key,omitempty"`
	Shards  []string `json:"shards"`
	Storage string   `json:"storage,omitempty"`
}

type fiStorage struct {
	Class string `json:"class"`
	Size  string `json:"size"`
}

type fiKustomize struct {
	Patches []kustomize.Patch `json:"patches,omitempty"`
}

type fiSync struct {
	Name       string           `json:"name,omitempty"`
	Interval   *metav1.Duration `json:"interval,omitempty"`
	Kind       string           `json:"kind"`
	URL        string           `json:"url"`
	Ref        string           `json:"ref"`
	Path       string           `json:"path"`
	PullSecret string           `json:"pullSecret,omitempty"`
	Provider   string           `json:"provider,omitempty"`
}

type resourceSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              resourceSetSpec       `json:"spec,omitempty"`
	Status            *apiextensionsv1.JSON `json:"status,omitempty"`
}

type resourceSetSpec struct {
	CommonMetadata     *commonMetadata                    `json:"commonMetadata,omitempty"`
	InputStrategy      *rsInputStrategy                   `json:"inputStrategy,omitempty"`
	Inputs             []map[string]*apiextensionsv1.JSON `json:"inputs,omitempty"`
	InputsFrom         []rsInputProviderReference         `json:"inputsFrom,omitempty"`
	Resources          []*apiextensionsv1.JSON            `json:"resources,omitempty"`
	ResourcesTemplate  string                             `json:"resourcesTemplate,omitempty"`
	Steps              []rsStep                           `json:"steps,omitempty"`
	DependsOn          []rsDependency                     `json:"dependsOn,omitempty"`
	ServiceAccountName string                             `json:"serviceAccountName,omitempty"`
	Wait               bool                               `json:"wait,omitempty"`
}

type rsInputStrategy struct {
	Name                  string `json:"name,omitempty"`
	IncludeEmptyProviders bool   `json:"includeEmptyProviders,omitempty"`
}

type rsInputProviderReference struct {
	APIVersion string                `json:"apiVersion,omitempty"`
	Kind       string                `json:"kind,omitempty"`
	Name       string                `json:"name,omitempty"`
	Selector   *metav1.LabelSelector `json:"selector,omitempty"`
}

type rsStep struct {
	Name              string                  `json:"name"`
	Resources         []*apiextensionsv1.JSON `json:"resources,omitempty"`
	ResourcesTemplate string                  `json:"resourcesTemplate,omitempty"`
	Timeout           *metav1.Duration        `json:"timeout,omitempty"`
}

type rsDependency struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
	Ready      bool   `json:"ready,omitempty"`
	ReadyExpr  string `json:"readyExpr,omitempty"`
}
