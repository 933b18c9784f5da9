"""The CrossGuard pack through the real engine: one deliberate violation per mandatory rule stops `up`.

tests/integration/violations is a separate Pulumi project that registers one violating object per
mandatory directive rule the pack can see. Here it is previewed with `--policy-pack policy/run-pack` (the
launcher this toolchain's language host needs) against the session's embedded control plane, with a file
backend of its own in tmp_path. Every violation must come back as a mandatory policy event of its own
rule, on its own resource; preview and `up` must fail; nothing may reach the cluster; and the review gate
must block and group the violations by directive rule.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import ConfigMap, PersistentVolumeClaim, Pod, ResourceQuota, Secret

from components.config import StackConfig, load_stack_file
from review.gate import exit_code, facts_from_config, read_event_log, summarize
from rules.registry import GATE_RULES, OBJECT_RULE_IDS, RULE_DOCS, STACK_RULE_IDS, directive
from tests.conftest import TEST_TODAY

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = Path(__file__).resolve().parent / "violations"
PACK = ROOT / "policy" / "run-pack"
STACK_FILE = ROOT / "Pulumi.k3s-home.yaml"
PROJECT = "k3s-home-policy-violations"
STACK = "policy-it"
TIMEOUT = 300
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"
# Rules the violations project leaves out, and why (the coverage check below keeps this list honest).
NOT_COVERED = {
    "data-loss": "enforced by the review gate over engine operations; CrossGuard sees no operations",
    "directive-drift": "advisory only; it never stops `up`",
    "privilege-escalation": "advisory only (a Restricted-profile control, not the directive's privileged)",
    # The v4 provider's Check marks every Secret value secret (stringData and data), even on a raw
    # kubernetes:core/v1:Secret, so no Secret reaches the pack or the state in plaintext; the rule still
    # guards YAML (the audit) and ConfigMaps/Helm values, and its unit tests cover the Secret case.
    "secret-plaintext": "unreachable through the v4 provider: it marks every Secret value secret",
}


@dataclass(frozen=True)
class Violating:
    """One object of the violations project, and the rule it must trip."""

    rule: str
    resource: str  # Pulumi resource name (the last URN segment)
    type: str  # Pulumi type token
    kind: type  # lightkube resource class, to look for the object in the cluster
    namespace: str
    name: str

    @property
    def urn(self) -> str:
        return f"urn:pulumi:{STACK}::{PROJECT}::{self.type}::{self.resource}"


def violations(cfg: StackConfig) -> list[Violating]:
    """What tests/integration/violations/__main__.py registers, derived from the same stack config."""
    first, last = cfg.gpu.tenants[0].namespace, cfg.gpu.tenants[-1].namespace
    sops, usb, authentik = cfg.cluster.sops, cfg.cluster.usb_nic_monitoring, cfg.authentik.namespace
    pod, cm, secret = "kubernetes:core/v1:Pod", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret"
    quota = "kubernetes:core/v1:ResourceQuota"
    return [
        Violating("privileged-container", "privileged-container", pod, Pod, last, "policy-it-privileged"),
        Violating("gpu-priority-class", "gpu-priority-class", pod, Pod, first, "policy-it-gpu-no-priority"),
        Violating(
            "gpu-oversubscription", "gpu-oversubscription", quota, ResourceQuota, last, "policy-it-gpu-slices"
        ),
        Violating(
            "storage-class",
            "storage-class",
            "kubernetes:core/v1:PersistentVolumeClaim",
            PersistentVolumeClaim,
            first,
            "policy-it-local-path",
        ),
        Violating("authentik-mfa", "authentik-mfa", cm, ConfigMap, authentik, "policy-it-mfa-blueprint"),
        Violating(
            "authentik-blueprint-format",
            "authentik-blueprint-format",
            cm,
            ConfigMap,
            authentik,
            "policy-it-legacy-blueprint",
        ),
        Violating("sops-untouchable", "sops-untouchable", secret, Secret, sops.namespace, sops.age_secret),
        Violating(
            "usb-nic-monitoring", "usb-nic-monitoring", cm, ConfigMap, usb.namespace, "policy-it-usb-nic"
        ),
    ]


def supporting_quotas(cfg: StackConfig) -> list[tuple[str, str]]:
    """(namespace, name) of the compliant quotas that keep every other tenant and pool bounded."""
    return [(t.namespace, "policy-it-gpu-slices") for t in cfg.gpu.tenants[:-1]]


def _out(result: subprocess.CompletedProcess) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )


def _exists(kube, kind: type, name: str, namespace: str) -> bool:
    try:
        kube.get(kind, name, namespace=namespace)
    except ApiError as err:
        if err.status.code == 404:
            return False
        raise
    return True


def _set_aside_gpu_quotas(kube, cfg: StackConfig) -> list[ResourceQuota]:
    """Delete the tenants' live `gpu-quota` objects; return them, ready to be created again."""
    kept = []
    for t in cfg.gpu.tenants:
        try:
            quota = kube.get(ResourceQuota, "gpu-quota", namespace=t.namespace)
        except ApiError as err:
            if err.status.code == 404:
                continue
            raise
        kube.delete(ResourceQuota, "gpu-quota", namespace=t.namespace)
        quota.metadata.resourceVersion = quota.metadata.uid = quota.metadata.managedFields = None
        quota.metadata.creationTimestamp = None
        quota.status = None
        kept.append(quota)
    return kept


def _policy_config(cfg: StackConfig, tmp_path: Path) -> list[str]:
    """Policy config args. The pack runs in its own process on the real clock, so authentik-mfa is given a
    stability window that stays open for a century from the pinned test day: the MFA blueprint is refused
    whatever the date, and the test reads no clock."""
    window = {"since": TEST_TODAY.isoformat(), "requiredDays": 36500}
    assert cfg.authentik.stability.required_days <= window["requiredDays"]
    # The violations project registers the tenants' GPU quotas itself, as the stack does when it owns
    # them; the pack then counts them, not also the copies Flux keeps (ADR 0029), which, stricter in the
    # same namespaces, would bound the oversubscribed one.
    kept = [ref for ref in cfg.cluster.flux_keeps if not ref.startswith("ResourceQuota/")]
    assert len(kept) < len(cfg.cluster.flux_keeps)
    path = tmp_path / "policy-config.json"
    path.write_text(
        json.dumps(
            {
                "authentik-mfa": {"overrides": {"authentik": {"stability": window}}},
                "gpu-oversubscription": {"overrides": {"cluster": {"fluxKeeps": kept}}},
            }
        )
    )
    return ["--policy-pack-config", str(path)]


def test_every_mandatory_rule_is_reported_and_stops_up(
    cluster_env: dict[str, str], embedded_kubeconfig: str, kube, tmp_path: Path
):
    cfg = load_stack_file(STACK_FILE, today=TEST_TODAY)
    expected = {v.rule: v for v in violations(cfg)}
    # Coverage: every rule the pack enforces as mandatory has its violation; the rest are left out on purpose.
    assert set(expected) == (OBJECT_RULE_IDS | STACK_RULE_IDS) - set(NOT_COVERED)
    assert set(expected) | set(NOT_COVERED) == set(RULE_DOCS)
    assert "data-loss" in GATE_RULES
    in_cluster = [(v.kind, v.namespace, v.name) for v in expected.values()]
    in_cluster += [(ResourceQuota, ns, name) for ns, name in supporting_quotas(cfg)]
    already = [f"{k.__name__} {ns}/{name}" for k, ns, name in in_cluster if _exists(kube, k, name, ns)]
    assert not already, f"objects of the violations project exist before the test: {already}"

    env = {
        **cluster_env,
        "KUBECONFIG": embedded_kubeconfig,
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": "test",
    }
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    (tmp_path / "state").mkdir()
    # `stack init` writes the passphrase salt into Pulumi.<stack>.yaml beside Pulumi.yaml: do that in a copy
    # of the project file (as the driver does), so the violations project stays untouched.
    init_dir = tmp_path / "init"
    init_dir.mkdir()
    shutil.copy(PROGRAM / "Pulumi.yaml", init_dir / "Pulumi.yaml")
    config_file = init_dir / f"Pulumi.{STACK}.yaml"

    def pulumi(*args: str, cwd: Path = PROGRAM) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["pulumi", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )

    pack = ["--stack", STACK, "--config-file", str(config_file), "--policy-pack", str(PACK)]
    pack += _policy_config(cfg, tmp_path)
    init = pulumi("stack", "init", STACK, cwd=init_dir)
    assert init.returncode == 0, _out(init)
    # The live GPU quotas Flux keeps (seeded) would refuse the violating GPU pods at the preview's dry run
    # and end the preview before every policy has seen its object; they are set aside for this project.
    live_quotas = _set_aside_gpu_quotas(kube, cfg)
    try:
        log = tmp_path / "preview-events.jsonl"
        preview = pulumi("preview", *pack, "--event-log", str(log))
        assert preview.returncode != 0, f"preview passed despite the violations\n{_out(preview)}"
        assert log.is_file(), f"no event log written\n{_out(preview)}"
        events = list(read_event_log(log))
        policy_events = [e["policyEvent"] for e in events if "policyEvent" in e]
        assert policy_events, f"the pack reported nothing\n{_out(preview)}"

        # Every rule: mandatory, on exactly its own resource, naming its own object; nothing else mandatory.
        mandatory = [p for p in policy_events if p.get("enforcementLevel") == "mandatory"]
        reported = {p["policyName"] for p in mandatory}
        assert reported == set(expected), (
            f"missing {sorted(set(expected) - reported)}, unexpected {sorted(reported - set(expected))}\n"
            + _out(preview)
        )
        for rule, v in expected.items():
            own = [p for p in policy_events if p.get("policyName") == rule]
            assert own and all(p.get("enforcementLevel") == "mandatory" for p in own), (rule, own)
            where = STACK_URN if rule in STACK_RULE_IDS else v.urn
            assert {p.get("resourceUrn") for p in own} == {where}, (rule, own)
            if rule not in STACK_RULE_IDS:
                assert all(f"{v.namespace}/{v.name}" in p["message"] for p in own), (rule, own)
        # No violation was downgraded (e.g. to "can't run during preview") on a violating resource.
        urns = {v.urn for v in expected.values()} | {STACK_URN}
        advisory = [p for p in policy_events if p.get("enforcementLevel") != "mandatory"]
        assert not [p for p in advisory if p.get("resourceUrn") in urns], advisory

        # The stack policy blames the quota that was raised, in the pool it oversubscribes.
        pool, last = cfg.gpu.pools[0], cfg.gpu.tenants[-1]
        others = sum(t.pools[pool.advertised].cap for t in cfg.gpu.tenants[:-1] if pool.advertised in t.pools)
        (over,) = [p["message"] for p in policy_events if p.get("policyName") == "gpu-oversubscription"]
        assert f"pool {pool.advertised}:" in over, over
        assert f"{last.namespace} max {pool.capacity - others + 1}" in over, over
        assert f"> {pool.capacity} slices" in over, over
        # The typed Secret's data reached the pack as a Pulumi secret: secret-plaintext ran on it and passed.
        sops_summary = [
            e["policyAnalyzeSummaryEvent"]
            for e in events
            if e.get("policyAnalyzeSummaryEvent", {}).get("resourceUrn") == expected["sops-untouchable"].urn
        ]
        assert sops_summary and "secret-plaintext" in sops_summary[0].get("passed", []), sops_summary

        # The review gate: blocked, violations grouped by directive rule, each group only its own rule.
        summary = summarize(events, facts_from_config(STACK_FILE, today=TEST_TODAY)[0])
        assert exit_code(summary) == 1
        grouped = {
            text: {v.rule for v in vs if v.level == "mandatory"} for text, vs in summary.violations.items()
        }
        assert grouped == {directive(rule): {rule} for rule in expected}, grouped
        for violation in summary.mandatory:
            wanted = STACK_URN if violation.rule in STACK_RULE_IDS else expected[violation.rule].urn
            assert violation.urn == wanted, violation
        # The violations alone block: without the engine's "preview failed" error and with no destructive
        # change, the verdict is still BLOCKED.
        alone = summarize([e for e in events if "diagnosticEvent" not in e], set())
        assert alone.complete and not alone.errors and not alone.blocking_changes
        assert exit_code(alone) == 1
        gate = subprocess.run(
            ["k3s-home-review", str(log), "--stack-config", str(STACK_FILE)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert gate.returncode == 1, _out(gate)
        assert f"{len(summary.mandatory)} mandatory policy violation(s)" in gate.stdout, _out(gate)
        report = gate.stdout.split("Policy violations by directive rule:", 1)[-1]
        for rule in expected:
            assert f"   {directive(rule)}\n     [mandatory] {rule}: " in report, (rule, report)

        # `up` is stopped, and nothing reached the cluster or the state.
        up = pulumi("up", "--yes", *pack)
        assert up.returncode != 0, f"up succeeded despite the violations\n{_out(up)}"
        created = [f"{k.__name__} {ns}/{name}" for k, ns, name in in_cluster if _exists(kube, k, name, ns)]
        assert not created, f"up let violating objects into the cluster: {created}\n{_out(up)}"
        export = pulumi("stack", "export", "--stack", STACK, cwd=init_dir)
        assert export.returncode == 0, _out(export)
        state = json.loads(export.stdout).get("deployment", {}).get("resources") or []
        managed = [r["urn"] for r in state if r.get("type", "").startswith("kubernetes:")]
        assert not managed, f"up recorded Kubernetes resources in the state: {managed}"
    finally:
        pulumi("destroy", "--yes", "--stack", STACK, "--config-file", str(config_file))
        rm = pulumi("stack", "rm", STACK, "--force", "--yes", cwd=init_dir)
        for quota in live_quotas:
            kube.create(quota)
    assert rm.returncode == 0, _out(rm)
