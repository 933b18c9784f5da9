"""Every directive rule in one place: the policy pack, the audit and the review gate read this list.

`RULES` is the one list: each rule id, the directive line it enforces and the one function that checks
it. Rule modules are imported eagerly: a missing module is a broken build, not a rule that quietly stops
running. Every finding must carry a registered rule id, so a new rule cannot reach a reviewer without
saying which line of the directive it enforces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from . import Config, Finding, authentik, data_loss, gpu, secrets_hygiene, security, sops, storage

ObjectRule = Callable[[dict, Config], list[Finding]]
StackRule = Callable[[list[dict], Config], list[Finding]]
Scope = Literal["object", "stack", "gate"]


@dataclass(frozen=True)
class Rule:
    """One directive rule: its id, the directive text it enforces, and the one function that checks it
    (one function may check two ids, e.g. the mandatory privileged-container and its advisory sibling).

    scope: `object` rules judge one object (a resource policy in the pack), `stack` rules all objects at
    once (a stack policy), `gate` rules the engine's operations (the review gate; CrossGuard cannot see
    operations). `ownership`: about what *this program* manages; a Flux repo legitimately owns these
    objects (its Kustomizations carry the SOPS settings), so the audit of a Flux repo skips them.
    """

    id: str
    directive: str
    check: Callable[..., Any]
    scope: Scope = "object"
    ownership: bool = False


# In the order the checks run (findings come out in this order). The review gate groups violations by
# the directive text.
RULES: tuple[Rule, ...] = (
    Rule(
        "privileged-container",
        "Prohibition 4: NO privileged containers without CIO approval",
        security.privileged_container,
    ),
    Rule(
        "privilege-escalation",
        "Advisory beside Prohibition 4: allowPrivilegeEscalation "
        "(Pod Security Standards, Restricted profile)",
        security.privileged_container,
    ),
    Rule(
        "gpu-priority-class",
        "Phase 2.3: UPDATE all GPU-consuming deployments with priorityClassName",
        gpu.gpu_priority_class,
    ),
    Rule(
        "directive-drift",
        "Phase 2.1-2.2: GPU PriorityClasses and quotas as the directive defines them",
        gpu.directive_drift,
    ),
    Rule(
        "gpu-oversubscription",
        "Prohibition 5: NO GPU oversubscription beyond defined limits",
        gpu.gpu_oversubscription,
        scope="stack",
    ),
    Rule(
        "storage-class",
        "Mandatory practice 3: ALL storage on longhorn-replicated or approved alternatives",
        storage.storage_class_rule,
    ),
    Rule(
        "authentik-mfa",
        "Prohibition 1: NO enabling Authentik 2FA before 30-day stability",
        authentik.check_mfa,
    ),
    Rule(
        "authentik-blueprint-format",
        "Phase 3.3: CONFIGURE OAuth2 providers (blueprints authentik accepts)",
        authentik.check_blueprint_format,
    ),
    Rule(
        "sops-untouchable",
        "Prohibition 2: NO modifications to SOPS encryption",
        sops.sops_untouchable,
        ownership=True,
    ),
    Rule(
        "usb-nic-monitoring",
        "Prohibition 3: NO changes to working USB NIC monitoring",
        sops.usb_nic_monitoring,
        ownership=True,
    ),
    Rule(
        "secret-plaintext",
        "Mandatory practice 4: ALL secrets SOPS-encrypted",
        secrets_hygiene.secret_plaintext,
    ),
    Rule(
        "data-loss",
        "Phase 5 success criteria: zero data loss (failure condition: any data loss incident)",
        data_loss.data_loss,
        scope="gate",
    ),
)
BY_ID: dict[str, Rule] = {r.id: r for r in RULES}

# Each function once, in table order, even when it checks several ids.
ALL_OBJECT_RULES: list[ObjectRule] = list(dict.fromkeys(r.check for r in RULES if r.scope == "object"))
ALL_STACK_RULES: list[StackRule] = list(dict.fromkeys(r.check for r in RULES if r.scope == "stack"))
# Rule id -> the directive text it enforces.
RULE_DOCS: dict[str, str] = {r.id: r.directive for r in RULES}
GATE_RULES = frozenset(r.id for r in RULES if r.scope == "gate")
STACK_RULE_IDS = frozenset(r.id for r in RULES if r.scope == "stack")
OBJECT_RULE_IDS = frozenset(r.id for r in RULES if r.scope == "object")
OWNERSHIP_RULES = frozenset(r.id for r in RULES if r.ownership)


class UnknownRuleError(RuntimeError):
    """A rule reported an id missing from RULE_DOCS: document it before it can run."""


def _known(findings: list[Finding], allowed: frozenset[str] | set[str]) -> list[Finding]:
    for finding in findings:
        if finding.rule not in allowed:
            raise UnknownRuleError(
                f"rule id '{finding.rule}' is not registered in rules.registry "
                f"(expected one of {', '.join(sorted(allowed))})"
            )
    return findings


def check_object(
    obj: dict,
    cfg: Config,
    *,
    is_secret: secrets_hygiene.IsSecret | None = None,
    skip: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Every object rule over one object. `is_secret` tells the secret rule which values were secret."""
    findings: list[Finding] = []
    for rule in ALL_OBJECT_RULES:
        if rule is secrets_hygiene.secret_plaintext:
            findings += rule(obj, cfg, is_secret)
        else:
            findings += rule(obj, cfg)
    return [f for f in _known(findings, OBJECT_RULE_IDS) if f.rule not in skip]


def check_stack(objs: list[dict], cfg: Config, *, skip: frozenset[str] = frozenset()) -> list[Finding]:
    """Every stack rule over all objects at once (quotas against pools and the like)."""
    findings: list[Finding] = []
    for rule in ALL_STACK_RULES:
        findings += rule(objs, cfg)
    return [f for f in _known(findings, STACK_RULE_IDS) if f.rule not in skip]


# A rule's advisory findings go to a twin policy `<id>-advisory` (CrossGuard fixes one level per policy).
ADVISORY_SUFFIX = "-advisory"


def rule_id_of(policy_name: str) -> str:
    """The rule id behind a policy name."""
    return policy_name.removesuffix(ADVISORY_SUFFIX)


def directive(rule_id: str) -> str:
    """The directive line a rule enforces; unknown ids (another pack's policies) are shown as they are."""
    return RULE_DOCS.get(rule_id, rule_id)
