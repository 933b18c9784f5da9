"""Every directive rule in one place: the policy pack, the audit and the review gate read this list.

Rule modules are imported eagerly: a missing module is a broken build, not a rule that quietly stops
running. Every finding must carry a rule id documented in `RULE_DOCS`, so a new rule cannot reach a
reviewer without saying which line of the directive it enforces.
"""

from __future__ import annotations

from collections.abc import Callable

from components.config import StackConfig

from . import Finding, authentik, gpu, secrets_hygiene, security, sops, storage

ObjectRule = Callable[[dict, StackConfig], list[Finding]]
StackRule = Callable[[list[dict], StackConfig], list[Finding]]

_MODULES = (security, gpu, storage, authentik, sops, secrets_hygiene)

ALL_OBJECT_RULES: list[ObjectRule] = [rule for m in _MODULES for rule in m.OBJECT_RULES]
ALL_STACK_RULES: list[StackRule] = [rule for m in _MODULES for rule in getattr(m, "STACK_RULES", [])]

# Rule id -> the directive text it enforces. The review gate groups violations by this text.
RULE_DOCS: dict[str, str] = {
    "privileged-container": "Prohibition 4: NO privileged containers without CIO approval",
    "privilege-escalation": (
        "Advisory beside Prohibition 4: allowPrivilegeEscalation (Pod Security Standards, Restricted profile)"
    ),
    "gpu-oversubscription": "Prohibition 5: NO GPU oversubscription beyond defined limits",
    "gpu-priority-class": "Phase 2.3: UPDATE all GPU-consuming deployments with priorityClassName",
    "directive-drift": "Phase 2.1-2.2: GPU PriorityClasses and quotas as the directive defines them",
    "storage-class": "Mandatory practice 3: ALL storage on longhorn-replicated or approved alternatives",
    "authentik-mfa": "Prohibition 1: NO enabling Authentik 2FA before 30-day stability",
    "authentik-blueprint-format": "Phase 3.3: CONFIGURE OAuth2 providers (blueprints authentik accepts)",
    "sops-untouchable": "Prohibition 2: NO modifications to SOPS encryption",
    "usb-nic-monitoring": "Prohibition 3: NO changes to working USB NIC monitoring",
    "secret-plaintext": "Mandatory practice 4: ALL secrets SOPS-encrypted",
    "data-loss": "Phase 5 success criteria: zero data loss (failure condition: any data loss incident)",
}

# Rules that the review gate enforces from engine operations; CrossGuard cannot see operations.
GATE_RULES = frozenset({"data-loss"})
# Rules whose findings come from STACK_RULES (the pack runs them as stack policies).
STACK_RULE_IDS = frozenset({"gpu-oversubscription"})
# Rules about what *this program* manages. A Flux repo legitimately owns these objects (its
# Kustomizations carry the SOPS decryption settings), so the audit of a Flux repo does not run them.
OWNERSHIP_RULES = frozenset({"sops-untouchable", "usb-nic-monitoring"})
# Every rule id the pack turns into a resource policy.
OBJECT_RULE_IDS = frozenset(RULE_DOCS) - GATE_RULES - STACK_RULE_IDS


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
    cfg: StackConfig,
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


def check_stack(objs: list[dict], cfg: StackConfig, *, skip: frozenset[str] = frozenset()) -> list[Finding]:
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
