//go:build tools

// Package tools pins the KWOK command for the embedded cluster's simulated nodes.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
