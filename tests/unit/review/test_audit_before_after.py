"""The audit before and after the libyaml parse, on files of the real Flux repo (fixtures/flux-k3s).

Before: `findings-before.txt`, the output of the pure-Python audit at 6ed96c5 (every line the document's
first). After: today's audit. The findings must be the same, except the reclassifications listed here,
and every finding must now name the line of its key.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from review.audit import audit, main
from rules.directive import PRIORITY_CLASS_DESCRIPTIONS, PRIORITY_CLASS_VALUES

FIXTURE = Path(__file__).resolve().parents[2] / "policy" / "fixtures" / "flux-k3s"
STACK_FILE = Path(__file__).resolve().parents[3] / "Pulumi.k3s-home.yaml"
LINE = re.compile(
    r"^(?P<file>.+?)(:(?P<line>\d+))?: \[(?P<severity>\w+)\] (?P<rule>[\w-]+): (?P<message>.+)$"
)

MEDIA = "clusters/k3s-home/apps/media"
ESCALATION = (
    "Helm values set allowPrivilegeEscalation: true without a CIO approval "
    "(annotate k3s-home.fletcherlabs.net/cio-approval with the approval id, e.g. CIO-2026-014)"
)
# allowPrivilegeEscalation on the linuxserver-based media apps: privileged-container (mandatory) before,
# privilege-escalation (advisory) after. Nothing else changes rule or severity.
RECLASSIFIED = [
    (f"{MEDIA}/{app}/helmrelease.yaml", f"HelmRelease media/{app}: {ESCALATION}")
    for app in (
        "bazarr",
        "lidarr",
        "overseerr",
        "plex",
        "prowlarr",
        "radarr",
        "recyclarr",
        "sabnzbd",
        "sonarr",
        "whisparr",
    )
]


def parse(lines: list[str], root: str) -> list[dict]:
    out = []
    for line in lines:
        m = LINE.match(line)
        assert m, f"not a finding line: {line!r}"
        out.append({**m.groupdict(), "file": m["file"].removeprefix(root).lstrip("/") or "."})
    return out


def key(f: dict) -> tuple[str, str, str, str]:
    return (f["file"], f["severity"], f["rule"], f["message"])


@pytest.fixture(scope="module")
def before() -> list[dict]:
    return parse((FIXTURE / "findings-before.txt").read_text().splitlines(), "")


@pytest.fixture(scope="module")
def after() -> list[dict]:
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        assert main([str(FIXTURE), "--config", str(STACK_FILE)]) == 1
    return parse(out.getvalue().splitlines(), str(FIXTURE))


QUOTAS = "clusters/k3s-home/infrastructure/07-gpu-management/namespace-quotas.yaml"
# The one stack finding that named no object now names the quota that sets the cap, so it has a line.
RELOCATED = (
    (".", "namespace media: quota requests.nvidia.com/gpu is 0, below its reservation of 2"),
    (
        QUOTAS,
        "ResourceQuota media/gpu-quota: quota requests.nvidia.com/gpu is 0, below namespace media's "
        "reservation of 2",
    ),
)


# A claim with storageClassName "" binds only a pre-provisioned volume; it does not get the default class
# (the repo's static NFS claims). Same rule and severity, a corrected message.
DEFAULT = "names no storage class, so it gets the cluster default (local-path)"
STATIC = 'has storageClassName "": a pre-provisioned volume without a class or replicas'


STATIC_CLAIMS = f"{MEDIA}/persistent-volume-claims.yaml"
# The files whose claims name "" explicitly (static NFS volumes); velero's example claim names no class.
STATIC_FILES = {STATIC_CLAIMS, "clusters/k3s-home/apps/velero/overlays/production/minio.yaml"}
USE = "use longhorn-replicated or an approved alternative (longhorn-nvme, longhorn-optane)"
# The Bazarr pilot now migrates the live claim (bazarr-config-pvc, NFS) instead of a local-path stand-in,
# so the finding moves with it: advisory (planned) on the live claim, mandatory on the fixture's stand-in.
PILOT = [
    (
        ("mandatory", f"PersistentVolumeClaim media/bazarr-config-pvc: the claim {STATIC}; {USE}"),
        (
            "advisory",
            f"PersistentVolumeClaim media/bazarr-config-pvc: the claim {STATIC}; {USE}; "
            "migration bazarr-pilot (phase plan)",
        ),
        STATIC_CLAIMS,
    ),
    (
        (
            "advisory",
            f"PersistentVolumeClaim media/bazarr-config: the claim uses storage class 'local-path'; "
            f"{USE}; migration bazarr-pilot (phase plan)",
        ),
        (
            "mandatory",
            f"PersistentVolumeClaim media/bazarr-config: the claim uses storage class 'local-path'; {USE}",
        ),
        "manifests/media-pvcs.yaml",
    ),
]


# directive-drift now cites the directive's line for the field (rules/directive.py). Same rule, severity.
DRIFT = re.compile(r"^PriorityClass (?P<name>[\w-]+): (?P<field>value|description) is ")


def cited(msg: str) -> str:
    m = DRIFT.match(msg)
    table = PRIORITY_CLASS_VALUES if m and m["field"] == "value" else PRIORITY_CLASS_DESCRIPTIONS
    source = table[m["name"]].source if m else ""
    return msg.replace("the directive (Phase 2) sets", f"the directive (Phase 2, {source}) sets")


def reworded(k: tuple[str, str, str, str]) -> tuple[str, str, str, str]:
    file, severity, rule, msg = k
    if rule == "directive-drift":
        k = (file, severity, rule, cited(msg))
    if rule == "storage-class" and file in STATIC_FILES and DEFAULT in msg:
        k = (file, severity, rule, msg.replace(DEFAULT, STATIC))
    for was, now, where in PILOT:
        if (k[0], k[1], k[3]) == (where, *was):
            return (where, now[0], rule, now[1])
    return k


# The repo's own blueprint was judged by the 2024.10+ format; it is now judged by the authentik the repo
# pins, chart 2023.10.7 (ADR 0024), whose format it has: these two findings are gone. Its entries still
# have no identifiers, which 2023.10.7's importer refuses too ("No or invalid identifiers"): those stay,
# advisory, because no Flux Kustomization applies the file (latent: authentik never loads it).
LONGHORN_BLUEPRINT = "clusters/k3s-home/apps/authentik/blueprints/longhorn-oauth2.yaml"
NO_IDENTIFIERS = [
    f"ConfigMap authentik/authentik-blueprint-longhorn: entries[{i}] ({model}) has no identifiers; "
    "authentik cannot find or update it"
    for i, model in enumerate(("authentik_providers_oauth2.oauth2provider", "authentik_core.application"))
]
LATENT = f"; latent: no Flux Kustomization applies {LONGHORN_BLUEPRINT} (facts/k3s-home.yaml)"
FIT_THE_PINNED_RELEASE = [
    "entries[0].attrs.redirect_uris is a string (pre-2024.10); "
    "use a list of {matching_mode: strict, url: ...}",
    "entries[0] (authentik_providers_oauth2.oauth2provider) has authorization_flow but no invalidation_flow "
    "(required since 2024.10; default-provider-invalidation-flow)",
]


def test_same_findings_except_the_listed_reclassifications(before, after):
    old = Counter(reworded(key(f)) for f in before)
    new = Counter(key(f) for f in after)
    (old_file, old_message), (new_file, new_message) = RELOCATED
    assert old - new == Counter(
        {
            **{(file, "mandatory", "privileged-container", msg): 1 for file, msg in RECLASSIFIED},
            (old_file, "mandatory", "gpu-oversubscription", old_message): 1,
            **{
                (
                    LONGHORN_BLUEPRINT,
                    "mandatory",
                    "authentik-blueprint-format",
                    f"ConfigMap authentik/authentik-blueprint-longhorn: {msg}",
                ): 1
                for msg in FIT_THE_PINNED_RELEASE
            },
            **{(LONGHORN_BLUEPRINT, "mandatory", "authentik-blueprint-format", m): 1 for m in NO_IDENTIFIERS},
        }
    )
    assert new - old == Counter(
        {
            **{(file, "advisory", "privilege-escalation", msg): 1 for file, msg in RECLASSIFIED},
            (new_file, "mandatory", "gpu-oversubscription", new_message): 1,
            **{
                (LONGHORN_BLUEPRINT, "advisory", "authentik-blueprint-format", m + LATENT): 1
                for m in NO_IDENTIFIERS
            },
        }
    )
    assert sum(old.values()) == 74 and sum(new.values()) == 72
    assert sum(1 for f in after if STATIC in f["message"]) == 13  # 12 media claims and minio


def test_privileged_host_and_sys_admin_stay_mandatory(after):
    kept = sorted(
        (f["file"].rsplit("/", 2)[-2], f["severity"], f["message"].split(": ", 1)[1].split(" without")[0])
        for f in after
        if f["rule"] == "privileged-container"
    )
    assert kept == [
        ("automatic1111", "mandatory", "Helm values set privileged: true"),
        ("dcgm-exporter", "mandatory", "Helm values add CAP_SYS_ADMIN (privilege escalation)"),
        ("dcgm-exporter", "mandatory", "Helm values set privileged: true"),
        ("nginx-app", "mandatory", "container fsfreeze is privileged"),
        ("ollama", "mandatory", "Helm values set privileged: true"),
    ]


def test_findings_name_the_line_of_their_key(after):
    got = {(f["file"].rsplit("/", 1)[-1], f["line"], f["rule"]) for f in after}
    assert {
        ("helmrelease.yaml", "36", "privilege-escalation"),  # bazarr's securityContext, deep in values
        ("helm-release.yaml", "97", "privileged-container"),  # dcgm-exporter securityContext.privileged
        ("helm-release.yaml", "99", "privileged-container"),  # and its capabilities.add
        ("persistent-volume-claims.yaml", "172", "storage-class"),  # 12th claim of a multi-document file
        ("priority-classes.yaml", "15", "directive-drift"),  # normal-gpu `value: 700`
        ("namespace-quotas.yaml", "10", "gpu-oversubscription"),  # limits.nvidia.com/gpu (a dotted key)
        ("namespace-quotas.yaml", "9", "gpu-oversubscription"),  # requests.nvidia.com/gpu "0", the cap
        ("secret.yaml", "9", "secret-plaintext"),  # the second stringData key
    } <= got


def test_every_line_holds_the_key_its_finding_names(real_config):
    report = audit(FIXTURE, real_config)
    missing_key = []
    for where, finding in report.findings:
        file, line = where.rsplit(":", 1)
        text = Path(file).read_text().splitlines()[int(line) - 1]
        key_on_line = text.strip().removeprefix("- ").split(":")[0].strip("\"' ")
        if not (finding.path == key_on_line or finding.path.endswith("." + key_on_line)):
            missing_key.append((Path(file).name, line, finding.path, key_on_line))
    # The one claim without storageClassName points at its `spec`, the nearest key there is.
    assert missing_key == [("with-pv.yaml", "31", "spec.storageClassName", "spec")]


def test_every_finding_has_a_file_and_line(after):
    assert [f for f in after if f["file"] == "." or f["line"] is None] == []
