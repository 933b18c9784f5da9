//go:build tools

// Package tools pins the kustomize CLI, which builds every folder `make render` writes into the Flux repo.
package tools

import _ "sigs.k8s.io/kustomize/kustomize/v5"
