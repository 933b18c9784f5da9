#!/usr/bin/env bash
# Builds kubectl (the preview benchmark's floor) from k8s.io/kubernetes/cmd/kubectl at the toolchain's
# Kubernetes version, once, into the tool cache; prints its path. The wrapper module in
# benchmarks/go/kubectl is the toolchain's kube-apiserver module plus what kubectl needs (kustomize,
# cli-runtime), so no module is fetched that its go.sum does not pin.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../toolchain/versions.env
source "$ROOT/toolchain/versions.env"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/k3s-home-iac"
OUT="$CACHE/kubectl-$KUBERNETES_VERSION/kubectl"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

if [[ ! -x $OUT ]]; then
  command -v go >/dev/null || { echo "go is required to build kubectl for the benchmark" >&2; exit 1; }
  mkdir -p "$(dirname "$OUT")"
  echo "[bench] building kubectl $KUBERNETES_VERSION (once; minutes)" >&2
  minor=${KUBERNETES_VERSION#*.}; minor=${minor%%.*}
  ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  (cd "$ROOT/benchmarks/go/kubectl" && go build -trimpath -ldflags "-s -w $ld" -o "$OUT.tmp" k8s.io/kubernetes/cmd/kubectl)
  mv "$OUT.tmp" "$OUT"
fi
echo "$OUT"
