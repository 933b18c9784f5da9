# Two commands on a fresh machine: `make preview` and `make test`. Both install what they need.
SHELL := /bin/bash
# Every target that needs tools runs the idempotent installer first (seconds when warm).
ENV := .work/env.sh
YES ?=
AUDIT_PATH ?=

.PHONY: toolchain preview up destroy test test-unit test-policy test-integration lint audit \
        cluster-up cluster-down kubeconfig bench schema docs record-migration-sources

toolchain:
	@bash scripts/toolchain.sh

preview: toolchain
	@bash scripts/stack.sh preview

up: toolchain
	@bash scripts/stack.sh up $(if $(YES),--yes,)

destroy: toolchain
	@bash scripts/stack.sh destroy $(if $(YES),--yes,)

record-migration-sources: toolchain
	@bash scripts/stack.sh record-migration-sources

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
