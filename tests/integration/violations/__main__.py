"""One deliberate violation per mandatory directive rule the CrossGuard pack can see.

tests/integration/test_policy_pack.py previews this program through the real engine with the pack
(`--policy-pack policy/run-pack`) and expects every object below to be reported as a mandatory violation
of exactly its own rule, and `pulumi up` to be stopped. The pack judges against the real stack config
(Pulumi.k3s-home.yaml), so the namespaces, selectors and GPU numbers come from that same file here.

The Pulumi resource name of each violating object is its rule id. Kubernetes names start with `policy-it-`
(except where the rule is about a fixed name: the SOPS age Secret).

Rules not here:
- `directive-drift` only ever reports advisories; this program is about what stops `up`.
- `data-loss` is enforced by the review gate over engine operations (delete/replace of a PVC, PV or
  StatefulSet); CrossGuard never sees operations and a first preview only creates.
"""

import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]  # /work/main: the rules' config model lives there
sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
import pulumi_kubernetes as k8s  # noqa: E402

from components.config import clock, load_stack_file  # noqa: E402

cfg = load_stack_file(ROOT / "Pulumi.k3s-home.yaml", today=clock.today())
first_tenant, last_tenant = cfg.gpu.tenants[0], cfg.gpu.tenants[-1]
pool = cfg.gpu.pools[0]
# Nothing here should ever start: the embedded control plane has no nodes, so never wait for a Pod or claim.
NO_AWAIT = {"pulumi.com/skipAwait": "true"}
IMAGE = "registry.invalid/pause:3.10"


def meta(name: str, namespace: str, **extra) -> k8s.meta.v1.ObjectMetaArgs:
    return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, **extra)


# privileged-container: privileged, and no CIO approval annotation.
k8s.core.v1.Pod(
    "privileged-container",
    metadata=meta("policy-it-privileged", last_tenant.namespace, annotations=NO_AWAIT),
    spec=k8s.core.v1.PodSpecArgs(
        containers=[
            k8s.core.v1.ContainerArgs(
                name="app", image=IMAGE, security_context=k8s.core.v1.SecurityContextArgs(privileged=True)
            )
        ]
    ),
)

# gpu-priority-class: a GPU consumer in a tenant namespace without that tenant's priorityClassName.
k8s.core.v1.Pod(
    "gpu-priority-class",
    metadata=meta("policy-it-gpu-no-priority", first_tenant.namespace, annotations=NO_AWAIT),
    spec=k8s.core.v1.PodSpecArgs(
        containers=[
            k8s.core.v1.ContainerArgs(
                name="app",
                image=IMAGE,
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    requests={pool.advertised: "1"}, limits={pool.advertised: "1"}
                ),
            )
        ]
    ),
)

# gpu-oversubscription (a stack policy over every quota): each tenant gets the quota the config proves
# safe, except the last tenant, whose quota on the first pool is raised one slice past what is left of it.
# Only that one ResourceQuota is the violation; the others keep every other pool bounded and in capacity.
others = sum(t.pools[pool.advertised].cap for t in cfg.gpu.tenants[:-1] if pool.advertised in t.pools)
OVERSUBSCRIBED = pool.capacity - others + 1
for tenant in cfg.gpu.tenants:
    hard = cfg.gpu.quota_hard(tenant)
    if tenant is last_tenant:
        hard[f"requests.{pool.advertised}"] = str(OVERSUBSCRIBED)
    k8s.core.v1.ResourceQuota(
        "gpu-oversubscription" if tenant is last_tenant else f"gpu-quota-{tenant.namespace}",
        metadata=meta("policy-it-gpu-slices", tenant.namespace),
        spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=hard),
    )

# storage-class: a claim on local-path (not approved) that no migration in the stack config plans to move.
assert "local-path" not in cfg.storage.approved, "local-path became an approved class; pick another"
k8s.core.v1.PersistentVolumeClaim(
    "storage-class",
    metadata=meta("policy-it-local-path", first_tenant.namespace, annotations=NO_AWAIT),
    spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
        access_modes=["ReadWriteOnce"],
        storage_class_name="local-path",
        resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": "1Gi"}),
    ),
)

# authentik-mfa: a well-formed blueprint whose authenticator-validate stage forces MFA enrolment.
MFA_BLUEPRINT = """\
version: 1
metadata:
  name: policy-it-enforce-mfa
entries:
  - model: authentik_stages_authenticator_validate.authenticatorvalidatestage
    identifiers:
      name: policy-it-mfa-validation
    attrs:
      device_classes: [totp, webauthn]
      not_configured_action: configure
      # well-formed: authentik refuses `configure` without the stages that enrol a device
      configuration_stages:
        - !Find [authentik_stages_authenticator_totp.authenticatortotpstage, [name, policy-it-totp-setup]]
"""
k8s.core.v1.ConfigMap(
    "authentik-mfa",
    metadata=meta("policy-it-mfa-blueprint", cfg.authentik.namespace),
    data={"enforce-mfa.yaml": MFA_BLUEPRINT},
)

# authentik-blueprint-format: an OAuth2 provider in a format the pinned authentik (chart 2023.10.7, facts)
# does not read: the 2024.10.3+ list of redirect URIs and an invalidation_flow (ADR 0024). No MFA stage,
# so only the format rule applies.
LEGACY_BLUEPRINT = """\
version: 1
metadata:
  name: policy-it-legacy-provider
entries:
  - model: authentik_providers_oauth2.oauth2provider
    identifiers:
      name: policy-it-legacy
    attrs:
      authorization_flow: !Find
        - authentik_flows.flow
        - [slug, default-provider-authorization-implicit-consent]
      invalidation_flow: !Find [authentik_flows.flow, [slug, default-provider-invalidation-flow]]
      client_type: confidential
      redirect_uris:
        - {matching_mode: strict, url: "https://legacy.invalid/oauth/callback"}
"""
k8s.core.v1.ConfigMap(
    "authentik-blueprint-format",
    metadata=meta("policy-it-legacy-blueprint", cfg.authentik.namespace),
    data={"legacy-provider.yaml": LEGACY_BLUEPRINT},
)

# sops-untouchable: managing the SOPS age key Secret at all. The typed Secret class marks its data as a
# Pulumi secret, so this object must not trip secret-plaintext (the test checks that too).
k8s.core.v1.Secret(
    "sops-untouchable",
    metadata=meta(cfg.cluster.sops.age_secret, cfg.cluster.sops.namespace),
    type="Opaque",
    string_data={"age.agekey": "AGE-SECRET-KEY-1POLICYINTEGRATIONTESTNOTAREALKEY"},
)

# usb-nic-monitoring: an object carrying the monitoring's labels in its namespace (selector from config).
usb = cfg.cluster.usb_nic_monitoring
k8s.core.v1.ConfigMap(
    "usb-nic-monitoring",
    metadata=meta("policy-it-usb-nic", usb.namespace, labels=dict(usb.match_labels)),
    data={"interface": "eth1"},
)


# secret-plaintext: a Secret whose value is not a Pulumi secret. The typed k8s.core.v1.Secret wraps `data`
# and `stringData` in Output.secret, so it cannot carry plaintext: this registers the same type token
# (kubernetes:core/v1:Secret, same provider) without that wrapping, which is exactly what the rule guards
# against reaching the state file. No apiextensions.CustomResource involved.
class PlaintextSecret(pulumi.CustomResource):
    def __init__(self, name: str, props: dict) -> None:
        super().__init__(
            "kubernetes:core/v1:Secret",
            name,
            props,
            pulumi.ResourceOptions(version=version("pulumi_kubernetes")),
        )


PlaintextSecret(
    "secret-plaintext",
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "policy-it-plaintext", "namespace": first_tenant.namespace},
        "type": "Opaque",
        "stringData": {"password": "policy-it-plaintext-not-a-real-password"},
    },
)
