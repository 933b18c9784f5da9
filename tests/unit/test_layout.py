"""The import graph of the project's own code (ADR 0010): no cycle, and the layers point one way.

    facts/               the cluster as its Flux repo says (derived by `make facts`): imports nothing else
    rules/               pure functions over Kubernetes dicts and plain values: imports only rules/ and facts/
    components/config/   the pydantic model: imports only itself, rules/ and facts/ (the shared pure helpers)
    components/<concern> builders and components: never policy/, review/ or gitops/
    flux/                Flux's ownership and the edits of its files (ADR 0029): over components, under the
                         driver and the render
    policy/, review/     the pack, the gate and the audit: on top
    k3s_home/, gitops/   the driver (`python -m k3s_home`) and `make render`: the very top, over the gate;
                         nothing below imports them

Read with `ast`, not by importing: an import inside a function or under TYPE_CHECKING counts as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("facts", "components", "rules", "flux", "policy", "review", "gitops", "k3s_home")


def _modules() -> dict[str, Path]:
    found = {"__main__": ROOT / "__main__.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules `name` imports, with the packages whose __init__ that import runs."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        for target in targets:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                # The packages above `name` run anyway, before `name` itself: not an import of it.
                if candidate in MODULES and not (name == candidate or name.startswith(candidate + ".")):
                    out.add(candidate)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _group(module: str) -> str:
    """The package a module belongs to for layering: rules, components.config, components.gpu, ..."""
    parts = module.split(".")
    if parts[0] == "components" and len(parts) > 1 and (ROOT / "components" / parts[1]).is_dir():
        return ".".join(parts[:2])
    return parts[0]


def test_the_walk_sees_the_project() -> None:
    # A walk that finds nothing would pass every check below.
    assert {"rules.registry", "components.config", "components.gpu.component", "review.gate"} <= set(GRAPH)
    assert "rules.registry" in GRAPH["review.gate"]
    assert "components.config.base" in GRAPH["components.config.gpu"]  # `from .base import ...`


def test_no_module_cycle() -> None:
    assert _cycles(GRAPH) == []


def test_no_package_cycle() -> None:
    groups: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        groups.setdefault(_group(module), set()).update(
            _group(t) for t in targets if _group(t) != _group(module)
        )
    assert _cycles(groups) == []


def test_cycle_detection_finds_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


ALLOWED = {
    "facts": ("facts",),
    "rules": ("rules", "facts"),
    "components.config": ("components.config", "rules", "facts"),
}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_import_nothing_above(layer: str) -> None:
    allowed = ALLOWED[layer]
    wrong = {
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if _group(module) == layer
        for target in targets
        if not any(target == a or target.startswith(a + ".") for a in allowed)
    }
    assert wrong == set()


def test_components_do_not_import_the_pack_or_the_gate() -> None:
    wrong = {
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if module.startswith("components.")
        for target in targets
        if target.split(".")[0] in ("policy", "review", "gitops", "flux")
    }
    assert wrong == set()


def test_nothing_below_the_driver_imports_it() -> None:
    assert {"k3s_home.commands", "gitops.render"} <= set(GRAPH)  # the walk sees the top layer too
    wrong = {
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if _group(module) not in ("k3s_home", "gitops", "__main__")
        for target in targets
        if _group(target) in ("k3s_home", "gitops")
    }
    assert wrong == set()


def test_flux_sits_over_components_and_under_the_render() -> None:
    assert {"flux.edits", "flux.ownership"} <= set(GRAPH)
    assert "flux.edits" in GRAPH["gitops.render"]
    wrong = {
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if _group(module) == "flux"
        for target in targets
        if _group(target) in ("policy", "review", "gitops", "k3s_home")
    }
    assert wrong == set()
