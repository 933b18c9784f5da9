"""docs/gpu-plan.svg: per pool, the capacity against every tenant's reservation and cap, and the free slices.

Every number comes from the capacity proof (rules.gpu_capacity, via `GpuConfig.verdicts()`): each
tenant's bar is its commitment, `max(cap, reserved)`, solid up to the reservation and hatched above it.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Literal

from components.config.gpu import GpuConfig
from components.plotting import render
from rules.gpu_capacity import Verdict

if TYPE_CHECKING:  # matplotlib is imported when drawing (components.plotting)
    from matplotlib.figure import Figure

FILE = "gpu-plan.svg"
PALETTE = ("#1b6ca8", "#d1495b", "#2a9d8f", "#e9a03b", "#6a4c93", "#5c677d")
FREE = "#f1f3f5"
LABEL_BOX = {"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8, "linewidth": 0}


def picture(gpu: GpuConfig, fmt: Literal["svg", "png"] = "svg") -> bytes:
    return render(partial(_draw, gpu), (8.5, 1.0 + 1.55 * len(gpu.pools)), fmt)


def _draw(gpu: GpuConfig, fig: Figure) -> None:
    from matplotlib.patches import Patch

    colors = {t.namespace: PALETTE[i % len(PALETTE)] for i, t in enumerate(gpu.tenants)}
    verdicts = gpu.verdicts()
    axes = fig.subplots(len(verdicts), 1, squeeze=False)[:, 0]
    for ax, verdict in zip(axes, verdicts, strict=True):
        _pool(ax, gpu, verdict, colors)
    tenants = [
        Patch(facecolor=colors[t.namespace], label=f"{t.namespace} ({t.priority_class_name})")
        for t in gpu.tenants
    ]
    kinds = [
        Patch(facecolor="#888888", label="reserved"),
        Patch(facecolor="#dddddd", edgecolor="#888888", hatch="///", label="max above the reservation"),
        Patch(facecolor=FREE, edgecolor="#adb5bd", label="free"),
    ]
    fig.legend(handles=tenants + kinds, loc="outside lower center", ncols=len(tenants) + len(kinds))
    fig.suptitle("GPU plan: committed slices per pool (each tenant commits max(cap, reserved))")


def _pool(ax, gpu: GpuConfig, v: Verdict, colors: dict[str, str]) -> None:
    pool = gpu.pool(v.pool)
    left = 0
    for claim in v.claims:
        color = colors[claim.tenant]
        committed = claim.commitment or 0
        if claim.reserved:
            ax.barh(0, claim.reserved, left=left, height=0.6, color=color)
        if committed > claim.reserved:
            ax.barh(
                0,
                committed - claim.reserved,
                left=left + claim.reserved,
                height=0.6,
                facecolor=_tint(color),
                edgecolor=color,
                hatch="///",
                linewidth=0,
            )
        tenant, _, terms = claim.describe().partition(" ")
        label = f"{tenant}\n{terms}"
        ax.text(left + committed / 2, 0, label, ha="center", va="center", fontsize=8, bbox=LABEL_BOX)
        left += committed
    if v.free:
        ax.barh(0, v.free, left=left, height=0.6, color=FREE, edgecolor="#adb5bd")
        ax.text(left + v.free / 2, 0, f"{v.free} free", ha="center", va="center", color="#495057")
    # One thin line per slice, a stronger one per device: quota counts slices, the plugin shares devices.
    ax.vlines(range(1, v.capacity), -0.3, 0.3, colors="white", linewidth=0.6)
    step = pool.slices_per_device
    ax.vlines(range(step, v.capacity, step), -0.38, 0.38, colors="#343a40", linewidth=0.8)
    ax.set_xlim(0, v.capacity)
    ax.set_ylim(-0.5, 0.5)
    ax.set_xticks(range(0, v.capacity + 1, step))
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    # The model refuses an oversubscribed pool, so every pool drawn here passed the proof.
    title = f"{v.pool} · {pool.model or pool.vendor} · committed {v.committed} of {v.capacity} slices"
    ax.set_title(title, loc="left", fontweight="bold")
    idle = [t.namespace for t in gpu.tenants if v.pool not in t.pools]
    note = f"; quota 0 for {', '.join(idle)}" if idle else ""
    ax.set_xlabel(f"{v.capacity} slices = {v.detail}{note}", loc="left")


def _tint(color: str) -> str:
    """`color` mixed with white, opaque: SVG fills a hatch pattern's background and lines together, so
    an alpha face would fade the hatch lines as well."""
    from matplotlib.colors import to_hex, to_rgb

    r, g, b = (0.35 * c + 0.65 for c in to_rgb(color))
    return to_hex((r, g, b))
