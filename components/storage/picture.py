"""docs/migration.svg: each migrated claim's phase, with its source and target class.

One row per claim, one column per phase (rules.data_loss.Phase): phases behind the migration
are done, its configured phase is now, the rest are to come. Recorded copy and verify results show in
their cells; claims named in acceptDataLoss show the copy they skip and the empty volume they get.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Literal

from components.config.migration import MigratedClaim, Migration
from components.config.storage import StorageConfig
from components.plotting import render
from components.storage.names import claim_size
from rules.data_loss import Phase

if TYPE_CHECKING:  # matplotlib is imported when drawing (components.plotting)
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FILE = "migration.svg"
# Columns in inches (1 data unit = 1 inch): claim, size, classes, then one cell per phase.
CLAIM_X, SIZE_X, CLASS_X, PHASE_X, PHASE_W, ROW_H = 0.1, 3.6, 4.75, 7.35, 1.05, 0.42
WIDTH = PHASE_X + PHASE_W * len(Phase) + 0.1
NAME_CHARS = 44
DONE, NOW, TODO, LOSS, EDGE = "#b2f2bb", "#4dabf7", "#ffffff", "#ffc9c9", "#868e96"
WORDS = {
    Phase.PLAN: "adopt",
    Phase.COPY: "copy",
    Phase.VERIFY: "verify",
    Phase.DETACH: "drop Jobs",
    Phase.CUTOVER: "cut over",
    Phase.CLEANUP: "clean up",
}


def picture(storage: StorageConfig, fmt: Literal["svg", "png"] = "svg") -> bytes:
    rows = len(storage.migrations) + sum(len(m.pvcs) for m in storage.migrations)
    return render(partial(_draw, storage), (WIDTH, 1.3 + ROW_H * rows), fmt)


def _draw(storage: StorageConfig, fig: Figure) -> None:
    from matplotlib.patches import Rectangle

    ax = fig.add_subplot()
    rows = len(storage.migrations) + sum(len(m.pvcs) for m in storage.migrations)
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(rows * ROW_H, -ROW_H)
    ax.set_axis_off()
    header = (
        (CLAIM_X, "claim (namespace/name)"),
        (SIZE_X, "size"),
        (CLASS_X, "storage class"),
    )
    for x, text in header:
        ax.text(x, -ROW_H / 2, text, va="center", fontweight="bold")
    for i, phase in enumerate(Phase):
        x = PHASE_X + (i + 0.5) * PHASE_W
        ax.text(x, -ROW_H / 2, phase.value, ha="center", va="center", fontweight="bold")
    y = 0.0
    for m in storage.migrations:
        nxt = next((p.value for p in Phase if p.rank == m.phase.rank + 1), "none (done)")
        ax.text(
            CLAIM_X,
            y + ROW_H / 2,
            f"migration {m.name} → {m.target_class}: phase {m.phase.value}, next {nxt}",
            va="center",
            fontweight="bold",
            color="#1864ab",
        )
        y += ROW_H
        for claim in m.pvcs:
            _row(ax, storage, m, claim, y)
            y += ROW_H
    fig.suptitle(
        "Storage migrations: one phase per pulumi up (plan → copy → verify → detach → cutover → cleanup)"
    )
    fig.legend(
        handles=[
            Rectangle((0, 0), 1, 1, facecolor=DONE, edgecolor=EDGE, label="done"),
            Rectangle((0, 0), 1, 1, facecolor=NOW, edgecolor=EDGE, label="configured phase (this up)"),
            Rectangle((0, 0), 1, 1, facecolor=TODO, edgecolor=EDGE, label="to come"),
            Rectangle((0, 0), 1, 1, facecolor=LOSS, edgecolor=EDGE, label="data loss accepted"),
        ],
        loc="outside lower center",
        ncols=4,
    )


def _row(ax: Axes, storage: StorageConfig, m: Migration, claim: MigratedClaim, y: float) -> None:
    from matplotlib.patches import Rectangle

    mid = y + ROW_H / 2
    ax.text(CLAIM_X + 0.15, mid, _short(claim.key), va="center", family="DejaVu Sans Mono", fontsize=8)
    ax.text(SIZE_X, mid, f"{claim.size} → {claim_size(storage, claim)}", va="center")
    source = claim.current_class or ("static nfs" if claim.source.nfs else "no class")
    ax.text(CLASS_X, mid, f"{source} → {m.target_class}", va="center")
    for i, phase in enumerate(Phase):
        color, text = _cell(m, claim, phase)
        x = PHASE_X + i * PHASE_W
        ax.add_patch(Rectangle((x + 0.03, y + 0.04), PHASE_W - 0.06, ROW_H - 0.08, facecolor=color, ec=EDGE))
        weight = "bold" if phase is m.phase else "normal"
        ax.text(x + PHASE_W / 2, mid, text, ha="center", va="center", fontsize=7.5, fontweight=weight)


def _cell(m: Migration, claim: MigratedClaim, phase: Phase) -> tuple[str, str]:
    """(fill, text) of one claim's phase cell."""
    lost = m.loses(claim)
    if lost and phase in (Phase.COPY, Phase.VERIFY):
        return LOSS, "no copy"
    if lost and phase is Phase.CUTOVER:
        return LOSS, "EMPTY volume"
    fill = DONE if m.phase.rank > phase.rank else NOW if phase is m.phase else TODO
    if phase is Phase.COPY and claim.name in m.copied:
        done = m.copied[claim.name]
        return fill, f"copied {_bytes(done.bytes)}\n{done.seconds:g} s"
    if phase is Phase.VERIFY and claim.name in m.verified:
        return fill, f"verified\n{m.verified[claim.name][:13]}…"
    return fill, WORDS[phase]


def _short(text: str) -> str:
    """Middle-elided to fit the column: long chart-made claim names keep their start and end."""
    if len(text) <= NAME_CHARS:
        return text
    keep = (NAME_CHARS - 1) // 2
    return f"{text[:keep]}…{text[-keep:]}"


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:g} {unit}"
        n = round(n / 1024, 1)
    return f"{n:g} TiB"
