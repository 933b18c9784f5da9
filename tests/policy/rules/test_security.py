"""privileged-container: privileged, host namespaces and CAP_SYS_ADMIN need a named CIO approval;
privilege-escalation: allowPrivilegeEscalation is an advisory of its own."""

from __future__ import annotations

import pytest

from rules.security import privileged_container
from tests.policy.helpers import (
    APPROVED,
    container,
    cronjob,
    deployment,
    helm_release,
    obj,
    pod,
    run_rule,
    verdict,
)

MANDATORY = [("privileged-container", "mandatory")]
ESCALATION = [("privilege-escalation", "advisory")]


def test_plain_deployment_passes(real_config):
    assert run_rule(privileged_container, deployment(container()), real_config) == []


def test_privileged_container_is_mandatory(real_config):
    findings = run_rule(privileged_container, deployment(container(privileged=True)), real_config)
    assert verdict(findings) == MANDATORY
    assert findings[0].path == "spec.template.spec.containers[0].securityContext.privileged"


def test_privilege_escalation_is_its_own_advisory(real_config):
    found = run_rule(privileged_container, pod(container(allowPrivilegeEscalation=True)), real_config)
    assert verdict(found) == ESCALATION
    assert found[0].path == "spec.containers[0].securityContext.allowPrivilegeEscalation"


def test_privileged_and_escalating_container_reports_both(real_config):
    both = deployment(container(privileged=True, allowPrivilegeEscalation=True))
    found = run_rule(privileged_container, both, real_config)
    assert sorted(verdict(found)) == sorted(MANDATORY + ESCALATION)


def test_helm_values_privilege_escalation_is_advisory(real_config):
    values = {
        "controllers": {
            "main": {"containers": {"main": {"securityContext": {"allowPrivilegeEscalation": True}}}}
        }
    }
    found = run_rule(privileged_container, helm_release(values), real_config)
    assert verdict(found) == ESCALATION
    assert (
        found[0].path
        == "spec.values.controllers.main.containers.main.securityContext.allowPrivilegeEscalation"
    )


def test_approval_covers_privilege_escalation_too(real_config):
    approved = pod(container(allowPrivilegeEscalation=True), annotations=APPROVED)
    assert run_rule(privileged_container, approved, real_config) == []


def test_escalation_false_passes(real_config):
    safe = container(allowPrivilegeEscalation=False, privileged=False)
    assert run_rule(privileged_container, deployment(safe), real_config) == []


def test_cap_sys_admin_counts_as_escalation(real_config):
    found = run_rule(
        privileged_container, deployment(container(capabilities={"add": ["SYS_ADMIN"]})), real_config
    )
    assert verdict(found) == MANDATORY


@pytest.mark.parametrize("key", ["hostNetwork", "hostPID", "hostIPC"])
def test_host_namespaces_are_mandatory(real_config, key):
    found = run_rule(privileged_container, deployment(container(), **{key: True}), real_config)
    assert [f.path for f in found] == [f"spec.template.spec.{key}"]


def test_init_containers_and_cronjobs_are_checked(real_config):
    job = cronjob(container(privileged=True))
    assert verdict(run_rule(privileged_container, job, real_config)) == MANDATORY
    init = deployment(container(), initContainers=[container("init", privileged=True)])
    assert "initContainers[0]" in run_rule(privileged_container, init, real_config)[0].path


def test_named_approval_on_the_object_allows_it(real_config):
    approved = deployment(container(privileged=True), hostPID=True, annotations=APPROVED)
    assert run_rule(privileged_container, approved, real_config) == []


def test_named_approval_on_the_pod_template_allows_it(real_config):
    d = deployment(container(privileged=True))
    d["spec"]["template"]["metadata"] = {"annotations": APPROVED}
    assert run_rule(privileged_container, d, real_config) == []


@pytest.mark.parametrize("value", ["", "yes", "approved by CIO", "CIO-XXXX-XXX", "TODO"])
def test_placeholder_approval_does_not_count(real_config, value):
    annotations = {"k3s-home.fletcherlabs.net/cio-approval": value}
    d = deployment(container(privileged=True), annotations=annotations)
    assert verdict(run_rule(privileged_container, d, real_config)) == MANDATORY


def test_helm_values_are_searched_at_any_depth(real_config):
    values = {"prometheus": {"nodeExporter": {"hostNetwork": True, "securityContext": {"privileged": True}}}}
    found = run_rule(privileged_container, helm_release(values), real_config)
    assert sorted(f.path for f in found) == [
        "spec.values.prometheus.nodeExporter.hostNetwork",
        "spec.values.prometheus.nodeExporter.securityContext.privileged",
    ]


def test_helm_values_string_true_counts(real_config):
    found = run_rule(privileged_container, helm_release({"agent": {"privileged": "true"}}), real_config)
    assert verdict(found) == MANDATORY


def test_helm_values_approved_release_passes(real_config):
    release = helm_release({"securityContext": {"privileged": True}}, annotations=APPROVED)
    assert run_rule(privileged_container, release, real_config) == []


def test_missing_spec_and_other_kinds_pass(real_config):
    assert run_rule(privileged_container, obj("Deployment", "x", "media", api="apps/v1"), real_config) == []
    assert (
        run_rule(
            privileged_container, obj("ConfigMap", "x", "media", data={"privileged": "true"}), real_config
        )
        == []
    )
    bare = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]},
    }
    assert run_rule(privileged_container, bare, real_config) == []
