"""k3s-home: load the typed config, build one component per concern, export what reviewers need."""

import sys

from policy.launch import exec_pack, started_as_pack

if started_as_pack(sys.argv):  # `--policy-pack policy` under the v3.79 language host (policy/launch.py)
    exec_pack(sys.argv[1:])

import pulumi

from components.config import ConfigError, clock, from_pulumi
from components.control_plane.component import HaControlPlane
from components.gpu.component import GpuManagement
from components.sso.component import AuthentikSso
from components.storage.component import MonitoringStorage

try:
    config = from_pulumi(today=clock.today())
except ConfigError as err:
    # RunError: one clean line, no traceback, nothing registered.
    raise pulumi.RunError(f"invalid stack config: {err}") from None

# Reviewed exceptions to the cluster's facts and to the directive: shown by every preview, never silent.
for line in config.departures_in_effect():
    pulumi.log.warn(line)
pulumi.export("departures", config.departures_in_effect())

gpu = GpuManagement("gpu", config)
storage = MonitoringStorage("monitoring-storage", config)
sso = AuthentikSso("authentik-sso", config)
control_plane = HaControlPlane("ha-control-plane", config)

pulumi.export("gpu", gpu.summary)
pulumi.export("monitoringStorage", storage.summary)
pulumi.export("authentik", sso.summary)
pulumi.export("controlPlane", control_plane.summary)
# Secret: each node's /etc/rancher/k3s/config.yaml carries the cluster token.
pulumi.export("controlPlaneNodeConfigs", control_plane.node_configs)
