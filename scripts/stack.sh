#!/usr/bin/env bash
# Runs a pulumi command on stack k3s-home against the right target, with the policy pack.
#   stack.sh preview        review: --diff, policy pack, saved plan, then the review gate summary
#                           (the gate also asks the target, via KUBECONFIG, whether planned creates exist)
#   stack.sh up [--yes]     applies exactly the reviewed plan (asks for confirmation unless --yes)
#   stack.sh destroy|refresh|<any pulumi subcommand> [args...]
# Target: the user's kubeconfig when one is configured (KUBECONFIG set, or ~/.kube/config), else
# the embedded control plane, started on demand. K3S_HOME_TARGET=embedded forces the latter.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$ROOT/.work"
RUN="${K3S_HOME_RUN_DIR:-$WORK}"  # state, passphrase, stack copy, plan; tests point it elsewhere
STACK=k3s-home
PROJECT=k3s-home  # name: in Pulumi.yaml
log() { printf '[k3s-home] %s\n' "$*" >&2; }

# shellcheck disable=SC1091
source "$WORK/env.sh"
cd "$ROOT"

choose_target() {
  local user_kc="${KUBECONFIG:-}"
  [[ -z $user_kc && -f $HOME/.kube/config ]] && user_kc="$HOME/.kube/config"
  if [[ ${K3S_HOME_TARGET:-} != embedded && -n $user_kc ]]; then
    export KUBECONFIG="$user_kc"
    local ctx
    ctx=$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1].split(":")[0])).get("current-context", "?"))' "$user_kc" 2>/dev/null || echo "?")
    log "target: your kubeconfig $user_kc, context '$ctx'"
  else
    bash "$ROOT/scripts/cluster.sh" status >/dev/null 2>&1 || bash "$ROOT/scripts/cluster.sh" up
    KUBECONFIG="$(bash "$ROOT/scripts/cluster.sh" kubeconfig)"
    export KUBECONFIG
    log "target: embedded control plane ($KUBECONFIG)"
  fi
  python "$ROOT/scripts/api_check.py" "$KUBECONFIG"
}

# Local file backend and a generated passphrase unless the user brings their own (docs/state.md).
backend() {
  mkdir -p "$RUN"
  if [[ -z ${PULUMI_BACKEND_URL:-} ]]; then
    mkdir -p "$RUN/state"
    export PULUMI_BACKEND_URL="file://$RUN/state"
  fi
  if [[ -z ${PULUMI_CONFIG_PASSPHRASE:-} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
    if [[ ! -s $RUN/passphrase ]]; then
      (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(32))' >"$RUN/passphrase")
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE="$RUN/passphrase"
  fi
}

# The committed Pulumi.k3s-home.yaml stays untouched: the passphrase's salt lives in an ignored
# copy that every command reads through --config-file.
# A local file backend answers from its own files; `pulumi stack ls` (a CLI start, ~0.25 s) asks the rest.
stack_exists() {
  local state=${PULUMI_BACKEND_URL#file://}
  # Project-scoped layout (stacks/<project>/<stack>.json[.gz]); the project is named in Pulumi.yaml.
  if [[ $PULUMI_BACKEND_URL == file://* ]] && compgen -G "$state/.pulumi/stacks/$PROJECT/$STACK.json*" >/dev/null; then
    return 0
  fi
  pulumi stack ls --json 2>/dev/null | python -c 'import json,sys; sys.exit(0 if any(s["name"].split("/")[-1]=="k3s-home" for s in json.load(sys.stdin)) else 1)'
}

stack_config() {
  local salt="$RUN/stack/encryptionsalt"
  mkdir -p "$RUN/stack"
  if ! stack_exists; then
    local tmp
    tmp=$(mktemp -d)
    cp "$ROOT/Pulumi.yaml" "$tmp/"
    (cd "$tmp" && pulumi stack init "$STACK" >/dev/null)
    grep '^encryptionsalt:' "$tmp/Pulumi.$STACK.yaml" >"$salt" || true
    rm -rf "$tmp"
  fi
  STACK_FILE="$RUN/stack/Pulumi.$STACK.yaml"
  # K3S_HOME_STACK_CONFIG previews a variant of the stack file (tests use it for bad input).
  local source_file="${K3S_HOME_STACK_CONFIG:-$ROOT/Pulumi.$STACK.yaml}"
  { grep -v '^encryptionsalt:' "$source_file"; cat "$salt" 2>/dev/null || true; } >"$STACK_FILE"
}

main() {
  local cmd=${1:?usage: stack.sh preview|up|destroy|...}; shift
  choose_target
  backend
  stack_config
  local common=(--stack "$STACK" --config-file "$STACK_FILE")
  case $cmd in
    preview)
      rm -f "$RUN/preview-events.jsonl" "$RUN/plan.json"
      local rc=0
      pulumi preview "${common[@]}" --diff --policy-pack "$ROOT/policy/run-pack" \
        --event-log "$RUN/preview-events.jsonl" --save-plan "$RUN/plan.json" "$@" || rc=$?
      local gate=0
      k3s-home-review "$RUN/preview-events.jsonl" --stack-config "$ROOT/Pulumi.$STACK.yaml" || gate=$?
      (( rc == 0 )) && (( gate == 0 )) && log "reviewed plan saved: $RUN/plan.json (make up applies exactly this plan)"
      (( rc != 0 )) && exit "$rc"
      exit "$gate"
      ;;
    up)
      [[ -f $RUN/plan.json ]] || { log "no reviewed plan: run 'make preview' first"; exit 1; }
      pulumi up "${common[@]}" --policy-pack "$ROOT/policy/run-pack" --plan "$RUN/plan.json" "$@"
      rm -f "$RUN/plan.json"
      ;;
    record-migration-sources)
      # The live facts of each migrated claim (PV, node, host path, uid), written into the stack file.
      python "$ROOT/scripts/record_sources.py" "$KUBECONFIG" "${K3S_HOME_STACK_CONFIG:-$ROOT/Pulumi.$STACK.yaml}"
      ;;
    destroy|refresh)
      pulumi "$cmd" "${common[@]}" "$@"
      ;;
    *)
      pulumi "$cmd" "$@" --stack "$STACK"
      ;;
  esac
}

main "$@"
