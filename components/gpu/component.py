"""The GPU ComponentResource: registers what `render` builds, classes first.

The admission binding's validationActions come from components.gpu.enforcement over the facts and the
target's live workloads (read here once, bounded; ADR 0030); the summary reports what was rendered.
"""

from __future__ import annotations

import pulumi

import facts as cluster_facts
from components.config import StackConfig
from components.gpu import live_workloads
from components.gpu.enforcement import decide
from components.gpu.live_workloads import LiveWorkloads
from components.gpu.render import admission_in_force, flux_kept, object_ref, render, summary
from components.resources import adoption, logical_name, register
from facts.model import Facts


class GpuManagement(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        opts: pulumi.ResourceOptions | None = None,
        *,
        facts: Facts | None = None,
        live: LiveWorkloads | None = None,
    ) -> None:
        gpu = config.gpu
        # The model already proved this; re-check so an unvalidated (model_construct) model registers nothing.
        for verdict in gpu.verdicts():
            if not verdict.ok:
                raise pulumi.RunError(f"k3s-home:gpu.tenants: oversubscribed: {verdict.explain()}")
        super().__init__("k3s-home:gpu:GpuManagement", name, None, opts)
        # The facts the config was checked against (components.config.load), else the committed ones.
        facts = facts or config._facts or cluster_facts.load()
        enforcement = decide(config, facts, live if live is not None else live_workloads.read())
        objects = render(gpu, enforcement.actions)
        self.summary = summary(config, admission_in_force(objects, enforcement))
        self.summary["advisories"] = [*self.summary["advisories"], *enforcement.advisories()]
        for note in self.summary["advisories"]:
            pulumi.log.warn(f"gpu advisory: {note}", resource=self)

        self.resources: dict[str, pulumi.CustomResource] = {}
        classes: list[pulumi.Resource] = []
        kept = flux_kept(config)
        if kept:
            pulumi.log.info(
                f"Flux keeps {len(kept)} GPU object(s) (k3s-home:cluster.fluxKeeps, ADR 0029): "
                f"{', '.join(kept)}; their changes are edits of Flux's files (make render FLUX_REPO=DIR)",
                resource=self,
            )
        for obj in objects:
            meta = obj["metadata"]
            if object_ref(obj) in kept:
                continue
            adopt = config.cluster.adopt_id(obj["kind"], meta["name"], meta.get("namespace"))
            # Pods name these classes: create them before anything that may admit GPU pods.
            deps = classes if obj["kind"] != "PriorityClass" else []
            opts_ = pulumi.ResourceOptions(parent=self, depends_on=deps, **adoption(adopt))
            if obj["kind"] == "PriorityClass":
                # `value` is immutable: a change is a replace, and the fixed name means delete first.
                opts_ = pulumi.ResourceOptions.merge(
                    opts_, pulumi.ResourceOptions(replace_on_changes=["value"], delete_before_replace=True)
                )
            res = register(f"{name}-{logical_name(obj)}", obj, opts_)
            if obj["kind"] == "PriorityClass":
                classes.append(res)
            self.resources[logical_name(obj)] = res
        self.register_outputs({"summary": self.summary})
