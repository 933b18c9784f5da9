//go:build tools

// Keeps controller-gen's module pinned here; scripts/toolchain.sh builds its cmd from this module.
package crds

import _ "sigs.k8s.io/controller-tools/pkg/genall"
