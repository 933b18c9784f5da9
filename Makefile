# Two commands on a fresh machine: `make preview` and `make test`. Both install what they need.
SHELL := /bin/bash
# Every target that needs tools runs the idempotent installer first (seconds when warm).
ENV := .work/env.sh
YES ?=
AUDIT_PATH ?=
# Names (or URNs) whose loss is acknowledged, for preview and destroy: make destroy ACK='a b'
ACK ?=
FLUX_REPO ?=
TO ?= render
# make mutants MUTATE='gitops/sops.py k3s_home/locks.py' (default: every package the issue names)
MUTATE ?=
TESTS ?= tests/unit tests/policy

.PHONY: toolchain preview up destroy recover cancel test test-unit test-policy test-integration lint audit \
        cluster-up cluster-down kubeconfig bench schema docs record-migration-sources render owners \
        pilot-report facts mutants

toolchain:
	@bash scripts/toolchain.sh

preview: toolchain
	@source $(ENV) && python -m k3s_home preview $(foreach a,$(ACK),--ack $(a))

up: toolchain
	@source $(ENV) && python -m k3s_home up $(if $(YES),--yes,)

destroy: toolchain
	@source $(ENV) && python -m k3s_home destroy $(if $(YES),--yes,) $(foreach a,$(ACK),--ack $(a))

recover: toolchain
	@source $(ENV) && python -m k3s_home recover

cancel: toolchain
	@source $(ENV) && python -m k3s_home cancel

# GitOps mode (ADR 0019): the same program, pack and gate write manifests into the Flux repo instead.
render: toolchain
	@test -n "$(FLUX_REPO)" || { echo "usage: make render FLUX_REPO=DIR" >&2; exit 2; }
	@source $(ENV) && python -m gitops.render "$(FLUX_REPO)"

# The cluster's facts from a checkout of its Flux repo (facts/k3s-home.yaml); CHECK=1 fails while stale.
facts: toolchain
	@test -n "$(FLUX_REPO)" || { echo "usage: make facts FLUX_REPO=DIR [CHECK=1]" >&2; exit 2; }
	@source $(ENV) && python -m facts "$(FLUX_REPO)" $(if $(CHECK),--check,)

# Moving between direct and GitOps mode: every object whose owner changes, and the step it needs.
owners: toolchain
	@test -n "$(FLUX_REPO)" || { echo "usage: make owners FLUX_REPO=DIR [TO=render|direct]" >&2; exit 2; }
	@source $(ENV) && python -m gitops.owners "$(FLUX_REPO)" --to "$(TO)"

record-migration-sources: toolchain
	@source $(ENV) && python -m k3s_home record-migration-sources

# The Bazarr pilot report from the phase results recorded in the stack file (docs/runbooks/bazarr-pilot.md).
pilot-report: toolchain
	@source $(ENV) && python -m components.storage.pilot_report Pulumi.k3s-home.yaml

cluster-up: toolchain
	@bash scripts/cluster.sh up

cluster-down:
	@bash scripts/cluster.sh down

kubeconfig:
	@bash scripts/cluster.sh kubeconfig

test: lint
	@source $(ENV) && python scripts/test_layers.py

test-unit: toolchain
	@source $(ENV) && python -m pytest -q tests/unit

test-policy: toolchain
	@source $(ENV) && python -m pytest -q tests/policy

test-integration: toolchain
	@source $(ENV) && python -m pytest -q tests/integration

lint: toolchain
	@source $(ENV) && ruff check . && ruff format --check .

audit: toolchain
	@test -n "$(AUDIT_PATH)" || { echo "usage: make audit AUDIT_PATH=DIR" >&2; exit 2; }
	@source $(ENV) && k3s-home-audit "$(AUDIT_PATH)" --config Pulumi.k3s-home.yaml

schema: toolchain
	@source $(ENV) && python -m components.config.schema > docs/schema/stack-config.schema.json

docs: toolchain
	@source $(ENV) && python -m components.docs

bench: toolchain
	@source $(ENV) && python benchmarks/run.py

# Mutation testing (cosmic-ray, ADR 0022) against the fast layers, in a copy under .work/mutants.
mutants: toolchain
	@source $(ENV) && python scripts/mutants.py --tests "$(TESTS)" $(MUTATE)
