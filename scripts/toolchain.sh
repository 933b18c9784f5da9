#!/usr/bin/env bash
# Installs everything the project needs, idempotently, and writes .work/env.sh for the Makefile.
#   - Python virtualenv from requirements.txt (re-installed only when the file changes)
#   - Pulumi CLI, language host, kubernetes plugin, etcd, kube-apiserver, kube-controller-manager,
#     controller-gen, actionlint, promtool and kustomize, built from Go modules into a per-user
#     cache keyed by version
#   - plugin registration with automatic plugin acquisition disabled (nothing touches the network
#     once the cache is warm)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../toolchain/versions.env
source "$ROOT/toolchain/versions.env"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/k3s-home-iac"
WORK="$ROOT/.work"
mkdir -p "$CACHE" "$WORK"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

log() { printf '[toolchain] %s\n' "$*" >&2; }

go_dir() { [[ $1 == /* ]] && echo "$1" || echo "$ROOT/toolchain/go/$1"; }

# build NAME OUT DIR PKG [LDFLAGS]: go build with a progress line every 30 s, skipped when OUT exists.
build() {
  local name=$1 out=$2 dir=$3 pkg=$4 ldflags=${5:-}
  if [[ -x $out ]]; then return 0; fi
  command -v go >/dev/null || { log "go is required to build $name (no prebuilt binary in $CACHE)"; exit 1; }
  mkdir -p "$(dirname "$out")"
  log "building $name from $pkg (cold builds take minutes; cached afterwards)"
  local start=$SECONDS
  (cd "$(go_dir "$dir")" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") &
  local pid=$! last=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if (( SECONDS - last >= 30 )); then log "  $name: $((SECONDS - start))s elapsed"; last=$SECONDS; fi
  done
  if ! wait "$pid"; then log "FAILED to build $name from $pkg"; rm -f "$out.tmp"; exit 1; fi
  mv "$out.tmp" "$out"
  log "built $name in $((SECONDS - start))s"
}

system_packages() {
  # Debian packages the scripts and tests call: certificates, health checks, the offline test.
  local missing=()
  for tool in openssl:openssl curl:curl ip:iproute2 unshare:util-linux dot:graphviz; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing system packages: ${missing[*]} (install them, e.g. sudo apt-get install ${missing[*]})"
    exit 1
  fi
}

python_env() {
  local venv="$ROOT/.venv" stamp="$ROOT/.venv/.requirements.sha256"
  local want
  want=$(sha256sum "$ROOT/requirements.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return 0; fi
  log "installing Python dependencies into .venv"
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements.txt"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$ROOT"
  echo "$want" >"$stamp"
}

pulumi_engine() {
  # An official CLI on PATH at the pinned version brings its own language host: use it.
  if command -v pulumi >/dev/null && [[ $(pulumi version 2>/dev/null) == "v$PULUMI_VERSION" ]] \
     && [[ $(command -v pulumi) != "$CACHE"/* ]]; then
    PULUMI_BIN_DIR=""
    log "using pulumi from PATH: $(command -v pulumi)"
    return 0
  fi
  PULUMI_BIN_DIR="$CACHE/pulumi-$PULUMI_VERSION-python-host-$PULUMI_LANGUAGE_PYTHON_SOURCE"
  build pulumi "$PULUMI_BIN_DIR/pulumi" pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
  build pulumi-language-python "$PULUMI_BIN_DIR/pulumi-language-python" pulumi-language-python \
    github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_LANGUAGE_PYTHON_SOURCE"
  # Shims that sit beside the language host: the exec shim matches the pinned Python SDK,
  # the dynamic-provider and policy-analyzer launchers come with the language host's release.
  local gomod
  gomod=$(go env GOMODCACHE)
  if [[ ! -x $PULUMI_BIN_DIR/pulumi-language-python-exec ]]; then
    (cd "$ROOT/toolchain/go/pulumi" && go mod download github.com/pulumi/pulumi/sdk/v3)
    (cd "$ROOT/toolchain/go/pulumi-language-python" && go mod download github.com/pulumi/pulumi/sdk/v3)
    install -m 0755 "$gomod/github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION/python/cmd/pulumi-language-python-exec" "$PULUMI_BIN_DIR/"
    for shim in pulumi-resource-pulumi-python pulumi-analyzer-policy-python; do
      install -m 0755 "$gomod/github.com/pulumi/pulumi/sdk/v3@v$PULUMI_LANGUAGE_PYTHON_SOURCE/python/dist/$shim" "$PULUMI_BIN_DIR/"
    done
  fi
}

# The v4 provider module carries a `replace ... => ../sdk` and embeds files that its own generate.go
# writes, so it is built from a writable copy: our pinned go.mod/go.sum (the upstream ones minus that
# replace, plus the published sdk/v4 it then needs), then generate.go, then go build.
kubernetes_provider() {
  local out=$1 mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  [[ -x $out ]] && return 0
  command -v go >/dev/null || { log "go is required to build the kubernetes plugin"; exit 1; }
  local src="$CACHE/src/provider-v4-$KUBERNETES_PROVIDER_MODULE_VERSION" dir
  dir=$(cd "$ROOT/toolchain/go/pulumi-resource-kubernetes" && go mod download -json "$mod@$KUBERNETES_PROVIDER_MODULE_VERSION" \
    | "$ROOT/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  cp "$ROOT/toolchain/go/pulumi-resource-kubernetes/go.mod" "$ROOT/toolchain/go/pulumi-resource-kubernetes/go.sum" "$src/"
  log "generating the kubernetes plugin's embedded schema (version $KUBERNETES_PLUGIN_VERSION)"
  (cd "$src/cmd/pulumi-resource-kubernetes" && VERSION=$KUBERNETES_PLUGIN_VERSION go run generate.go)
  build pulumi-resource-kubernetes "$out" "$src" ./cmd/pulumi-resource-kubernetes \
    "-X $mod/pkg/version.Version=$KUBERNETES_PLUGIN_VERSION"
}

resource_plugins() {
  local kdir="$CACHE/pulumi-resource-kubernetes-$KUBERNETES_PLUGIN_VERSION-src-$KUBERNETES_PROVIDER_MODULE_VERSION"
  kubernetes_provider "$kdir/pulumi-resource-kubernetes"
  local plugdir="$PULUMI_HOME/plugins/resource-kubernetes-v$KUBERNETES_PLUGIN_VERSION"
  if [[ ! -x $plugdir/pulumi-resource-kubernetes ]] || ! cmp -s "$kdir/pulumi-resource-kubernetes" "$plugdir/pulumi-resource-kubernetes"; then
    log "registering resource plugin kubernetes $KUBERNETES_PLUGIN_VERSION"
    rm -rf "$plugdir" "$plugdir.lock" "$plugdir.partial"  # `plugin install --file` keeps an existing copy
    pulumi plugin install resource kubernetes "$KUBERNETES_PLUGIN_VERSION" --file "$kdir/pulumi-resource-kubernetes" >/dev/null
  fi
}

control_plane() {
  KUBE_BIN_DIR="$CACHE/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION"
  build etcd "$KUBE_BIN_DIR/etcd" etcd go.etcd.io/etcd/server/v3
  local minor=${KUBERNETES_VERSION#*.}; minor=${minor%%.*}
  local ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  build kube-apiserver "$KUBE_BIN_DIR/kube-apiserver" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ld"
  build kube-controller-manager "$KUBE_BIN_DIR/kube-controller-manager" kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager "$ld"
  build kube-scheduler "$KUBE_BIN_DIR/kube-scheduler" kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler "$ld"
  # KWOK simulates the nodes k3s1..k3s4 and their pods' lifecycle (no kubelets).
  KWOK_BIN_DIR="$CACHE/kwok-$KWOK_VERSION"
  build kwok "$KWOK_BIN_DIR/kwok" kwok sigs.k8s.io/kwok/cmd/kwok
}

dev_tools() {
  TOOLS_BIN_DIR="$CACHE/tools-controller-tools-$CONTROLLER_TOOLS_VERSION"
  build controller-gen "$TOOLS_BIN_DIR/controller-gen" crds sigs.k8s.io/controller-tools/cmd/controller-gen
  build actionlint "$TOOLS_BIN_DIR/actionlint" actionlint github.com/rhysd/actionlint/cmd/actionlint
  PROMTOOL_BIN_DIR="$CACHE/promtool-$PROMETHEUS_VERSION"
  build promtool "$PROMTOOL_BIN_DIR/promtool" promtool github.com/prometheus/prometheus/cmd/promtool
  # kustomize builds every folder `make render` writes, as Flux's kustomize-controller would.
  KUSTOMIZE_BIN_DIR="$CACHE/kustomize-$KUSTOMIZE_VERSION"
  build kustomize "$KUSTOMIZE_BIN_DIR/kustomize" kustomize sigs.k8s.io/kustomize/kustomize/v5 \
    "-X sigs.k8s.io/kustomize/api/provenance.version=v$KUSTOMIZE_VERSION"
}

crds() {
  # Real schemas: controller-gen over the published Flux and Prometheus Operator API packages.
  local dir
  dir=$(bash "$ROOT/scripts/cluster.sh" crd-dir)
  [[ -f $dir/.complete ]] && return 0
  log "generating CustomResourceDefinitions with controller-gen into $dir"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$ROOT/toolchain/go/crds" && "$TOOLS_BIN_DIR/controller-gen" crd:maxDescLen=0 \
    paths=github.com/fluxcd/helm-controller/api/v2 \
    paths=github.com/fluxcd/source-controller/api/v1 \
    paths=github.com/fluxcd/kustomize-controller/api/v1 \
    paths=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1 \
    paths=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1 \
    output:crd:dir="$dir")
  touch "$dir/.complete"
}

write_env() {
  local path="$ROOT/.venv/bin:$KUBE_BIN_DIR:$KWOK_BIN_DIR:$TOOLS_BIN_DIR:$PROMTOOL_BIN_DIR:$KUSTOMIZE_BIN_DIR"
  [[ -n $PULUMI_BIN_DIR ]] && path="$PULUMI_BIN_DIR:$path"
  cat >"$WORK/env.sh" <<EOF
# Generated by scripts/toolchain.sh; sourced by the Makefile and the tests.
export PATH="$path:\$PATH"
export PULUMI_HOME="$PULUMI_HOME"
export PULUMI_SKIP_UPDATE_CHECK=1
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=1
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=1
# The CLI on PATH is this version (checked above): the driver need not start it to ask (k3s_home/engine.py).
export K3S_HOME_PULUMI_VERSION="$PULUMI_VERSION"
# --event-log (used by the review gate) is a hidden flag in this CLI version.
export PULUMI_DEBUG_COMMANDS=1
export K3S_HOME_KUBE_BIN_DIR="$KUBE_BIN_DIR"
export K3S_HOME_KWOK_BIN="$KWOK_BIN_DIR/kwok"
EOF
}

main() {
  local start=$SECONDS
  system_packages
  python_env
  pulumi_engine
  # A built CLI gets its own PULUMI_HOME so the user's ~/.pulumi plugins are left alone.
  if [[ -n $PULUMI_BIN_DIR ]]; then PULUMI_HOME="$CACHE/pulumi-home"; else PULUMI_HOME="${PULUMI_HOME:-$HOME/.pulumi}"; fi
  export PULUMI_HOME PATH="${PULUMI_BIN_DIR:+$PULUMI_BIN_DIR:}$PATH"
  export PULUMI_SKIP_UPDATE_CHECK=1 PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=1
  # The kubernetes plugin is the longest build, and much of it is one single-threaded compile (its
  # generated SDK package): build it beside the control plane so the second core is not idle.
  resource_plugins &
  local plugins=$!
  control_plane
  dev_tools
  wait "$plugins" || { log "FAILED: the kubernetes resource plugin"; exit 1; }
  crds
  write_env
  log "toolchain ready in $((SECONDS - start))s"
}

main "$@"
