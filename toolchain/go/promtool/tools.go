//go:build tools

// Package tools pins promtool, which checks and unit-tests the PrometheusRules the stack renders.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
