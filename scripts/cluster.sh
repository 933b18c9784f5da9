#!/usr/bin/env bash
# Embedded control plane on loopback that behaves like k3s-home: etcd + kube-apiserver +
# kube-controller-manager + kube-scheduler, and KWOK simulating the nodes the facts name (k3s-master1,
# k3s1..k3s3; no kubelets), seeded with what Flux, Helm and local-path created on the real cluster.
# $K3S_HOME_SEED_STANDINS (the integration tests) names a directory of marked test stand-ins seeded too.
# Generated certificates, a kubeconfig in .work/.
# Usage: cluster.sh up|down|status|kubeconfig|second-server PORT|restart-apiserver|ports [dev|test|aux]
# Every wait is bounded; a process that dies is reported with the tail of its log.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${K3S_HOME_CLUSTER_DIR:-$ROOT/.work/cluster}"
PKI="$STATE/pki"
KUBECONFIG_PATH="${K3S_HOME_CLUSTER_KUBECONFIG:-$ROOT/.work/kubeconfig}"
# Ports are derived from the checkout's path, so two checkouts on one machine never share them:
# from 20000 + 10*slot, three ports each (etcd client, etcd peer, kube-apiserver) for `dev` (make
# cluster-up, make preview), `test` (the integration session) and `aux` (tests' throwaway planes).
port_base() { # purpose -> first port of that purpose's block
  local slot=$(( $(printf '%s' "$ROOT" | cksum | cut -d' ' -f1) % 1000 ))
  local offset
  case ${1:-dev} in dev) offset=0 ;; test) offset=3 ;; aux) offset=6 ;; *) die "unknown port purpose $1" ;; esac
  echo $(( 20000 + slot * 10 + offset ))
}
ETCD_PORT="${K3S_HOME_ETCD_PORT:-$(port_base dev)}"
API_PORT="${K3S_HOME_API_PORT:-$(( $(port_base dev) + 2 ))}"
WAIT_SECONDS="${K3S_HOME_WAIT_SECONDS:-90}"

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

bin_dir() {
  [[ -f $ROOT/.work/env.sh ]] || die "toolchain not installed; run: make toolchain"
  # shellcheck disable=SC1091
  source "$ROOT/.work/env.sh"
  BIN="$K3S_HOME_KUBE_BIN_DIR"
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    [[ -x $BIN/$b ]] || die "$BIN/$b missing; run: make toolchain"
  done
  KWOK="$K3S_HOME_KWOK_BIN"
  [[ -x $KWOK ]] || die "$KWOK missing; run: make toolchain"
}

alive() { [[ -f $STATE/$1.pid ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

certs() {
  [[ -f $PKI/admin.crt ]] && return 0
  mkdir -p "$PKI"
  cd "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=k3s-home-embedded-ca" 2>/dev/null
  cat >san.cnf <<EOF
[req]
distinguished_name = dn
[dn]
[ext]
subjectAltName = IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage = serverAuth
EOF
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt \
    -days 3650 -extfile san.cnf -extensions ext 2>/dev/null
  # Client certificate in system:masters: full access for the stack, the tests and the controllers.
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=admin" 2>/dev/null
  printf 'extendedKeyUsage = clientAuth\n' >client.cnf
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 3650 \
    -extfile client.cnf 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  chmod 600 ./*.key
}

kubeconfig() {
  cat >"$KUBECONFIG_PATH" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: k3s-home-embedded
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: admin
  user:
    client-certificate: $PKI/admin.crt
    client-key: $PKI/admin.key
contexts:
- name: k3s-home-embedded
  context: {cluster: k3s-home-embedded, user: admin}
current-context: k3s-home-embedded
EOF
  chmod 600 "$KUBECONFIG_PATH"
}

# A port held by another process is named in one line, with the checkout that holds it when it is
# another embedded control plane, instead of an "address already in use" deep in a log.
port_free() { # port
  local holder
  holder=$(ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1)
  [[ -z $holder ]] && ! ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && return 0
  local cmd dir
  cmd=$(tr '\0' ' ' <"/proc/$holder/cmdline" 2>/dev/null || true)
  dir=$(sed -n 's/.*--data-dir \([^ ]*\)\/etcd-data.*/\1/p;s/.*--cert-dir \([^ ]*\)\/pki.*/\1/p' <<<"$cmd" | head -n1)
  if [[ -n $dir ]]; then
    die "port $1 is held by the embedded control plane in $dir (pid $holder); stop it with: K3S_HOME_CLUSTER_DIR=$dir bash scripts/cluster.sh down (or make cluster-down in its checkout), or set K3S_HOME_API_PORT/K3S_HOME_ETCD_PORT"
  fi
  die "port $1 is held by pid ${holder:-?} (${cmd:-unknown process}); free it or set K3S_HOME_API_PORT/K3S_HOME_ETCD_PORT"
}

start() { # name cmd...
  local name=$1; shift
  alive "$name" && return 0
  setsid "$@" >"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! >"$STATE/$name.pid"
}

wait_for() { # name description check-cmd...
  local name=$1 what=$2; shift 2
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then
      tail -n 15 "$STATE/$name.log" >&2 || true
      die "$name exited before $what (log: $STATE/$name.log)"
    fi
    (( SECONDS < deadline )) || die "$what not reached within ${WAIT_SECONDS}s (log: $STATE/$name.log)"
    sleep 0.5
  done
}

api_ready() { # port
  curl -sf --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$1/readyz" | grep -q ok
}

apiserver_args() { # port -> the flags of a kube-apiserver of this plane (no path holds a space)
  echo --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$1" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode RBAC --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --enable-priority-and-fairness=false --cert-dir "$PKI" --allow-privileged=true
}

# A second API server on the same etcd, as a second k3s server would be, that has rolled out the GPU
# admission configuration (toolchain/admission-config.yaml, ADR 0017). The live cluster runs without
# it, and so does the first server here: the flag goes on only after the stack's scoped quotas exist,
# or the live pods naming a GPU class (ollama) could not be recreated. Usage: second-server PORT
second_server() {
  [[ ${1:-} =~ ^[0-9]+$ ]] || die "usage: $0 second-server PORT"
  bin_dir
  alive kube-apiserver || die "the first kube-apiserver is not running; run: $0 up"
  alive kube-apiserver-2 && return 0
  port_free "$1"
  start kube-apiserver-2 "$BIN/kube-apiserver" $(apiserver_args "$1") \
    --admission-control-config-file "$ROOT/toolchain/admission-config.yaml"
  wait_for kube-apiserver-2 "the second kube-apiserver /readyz" api_ready "$1"
  log "second kube-apiserver with the GPU admission configuration ready: https://127.0.0.1:$1"
}

up() {
  bin_dir
  mkdir -p "$STATE"
  certs
  kubeconfig
  if ! alive etcd; then port_free "$ETCD_PORT"; port_free $((ETCD_PORT + 1)); fi
  if ! alive kube-apiserver; then port_free "$API_PORT"; fi
  start etcd "$BIN/etcd" --name embedded --data-dir "$STATE/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "embedded=http://127.0.0.1:$((ETCD_PORT + 1))" --unsafe-no-fsync --log-level warn
  wait_for etcd "etcd health" curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"
  start kube-apiserver "$BIN/kube-apiserver" $(apiserver_args "$API_PORT")
  wait_for kube-apiserver "kube-apiserver /readyz" api_ready "$API_PORT"
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$KUBECONFIG_PATH" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials=false --controllers '*,-nodeipam,-cloud-node-lifecycle'
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$KUBECONFIG_PATH" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 0
  # KWOK manages only nodes annotated as fake; its default stages make pods Running and Job pods
  # Succeeded, and finish deletions the way a kubelet would.
  start kwok "$KWOK" --kubeconfig "$KUBECONFIG_PATH" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --cidr 10.42.0.0/16 \
    --node-ip 10.0.0.1 --node-lease-duration-seconds 40
  sleep 1
  for name in kube-controller-manager kube-scheduler kwok; do
    alive "$name" || { tail -n 15 "$STATE/$name.log" >&2; die "$name exited"; }
  done
  # CRDs first, then the nodes and what Flux, Helm and local-path created on the live cluster.
  "$ROOT/.venv/bin/python" "$ROOT/scripts/apply_manifests.py" "$KUBECONFIG_PATH" "$(crd_dir)"
  # The nodes come from the facts (facts/k3s-home.yaml, or $K3S_HOME_FACTS), read at every start.
  "$ROOT/.venv/bin/python" "$ROOT/scripts/seed_live.py" "$KUBECONFIG_PATH" "$ROOT/Pulumi.k3s-home.yaml" \
    --wait "$WAIT_SECONDS" ${K3S_HOME_SEED_STANDINS:+--stand-ins "$K3S_HOME_SEED_STANDINS"}
  log "embedded control plane ready: https://127.0.0.1:$API_PORT (kubeconfig: $KUBECONFIG_PATH)"
}

crd_dir() {
  # shellcheck disable=SC1091
  source "$ROOT/toolchain/versions.env"
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/k3s-home-iac/crds-flux-$FLUX_HELM_API_VERSION-$FLUX_SOURCE_API_VERSION-$FLUX_KUSTOMIZE_API_VERSION-promop-$PROMETHEUS_OPERATOR_API_VERSION"
}

stop() { # name: SIGTERM, at most 10 s, then SIGKILL
  if alive "$1"; then
    local pid
    pid=$(cat "$STATE/$1.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/$1.pid"
}

# The kube-apiserver alone stopped and started again, etcd and the rest left running: what a k3s server
# restart looks like to its clients (tests of an `up` that loses its API server mid-phase).
restart_apiserver() {
  bin_dir
  alive kube-apiserver || die "the kube-apiserver is not running; run: $0 up"
  stop kube-apiserver
  cat "$STATE/kube-apiserver.log" >>"$STATE/kube-apiserver.log.1" 2>/dev/null || true
  port_free "$API_PORT"
  start kube-apiserver "$BIN/kube-apiserver" $(apiserver_args "$API_PORT")
  wait_for kube-apiserver "kube-apiserver /readyz" api_ready "$API_PORT"
  log "kube-apiserver restarted: https://127.0.0.1:$API_PORT"
}

down() {
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver-2 kube-apiserver etcd; do
    stop "$name"
  done
  # The embedded cluster is disposable: a fresh one per `up` keeps test runs independent.
  rm -rf "$STATE/etcd-data"
  log "embedded control plane stopped"
}

status() {
  local ok=0
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    if alive "$name"; then echo "$name: running"; else echo "$name: stopped"; ok=1; fi
  done
  return $ok
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  kubeconfig) echo "$KUBECONFIG_PATH" ;;
  # The block's tenth port is the second API server's (tests only).
  ports) b=$(port_base "${2:-dev}"); echo "etcd=$b api=$((b + 2)) second=$(( $(port_base dev) + 9 ))" ;;
  crd-dir) crd_dir ;;
  second-server) second_server "${2:-}" ;;
  restart-apiserver) restart_apiserver ;;
  *) die "usage: $0 up|down|status|kubeconfig|second-server PORT|restart-apiserver|ports [dev|test|aux]" ;;
esac
