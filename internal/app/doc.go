// Package app knows the order of the steps: inputs → discover → detect → build → validate →
// compare → push → sign → tag → report. The step packages (config, component, gitdiff, artifact,
// kustomize, registry, sign, tags, report) do one step each and hand plain values back; only this
// package calls them in sequence, and it is where the modes (publish, detect, validate, promote,
// verify) are put together.
package app
