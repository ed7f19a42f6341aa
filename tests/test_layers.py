"""The package's layers (docs/DESIGN.md): every import points down, and no module imports
itself back through others. Imports inside functions count as much as those at the top."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "spen"
#: each layer may import the layers before it (and itself), nothing after
LAYERS = [
    {"config", "cpu_kernels", "device", "io", "run_config"},
    {"data"},
    {"inference", "chain_inference"},
    {"models"},
    {"evaluation"},
    {"training"},
    {
        "tagger",
        "export",
        "bench",
        "tuning",
        "layout",
        "steps",
        "dvc_yaml",
        "dvc_lock",
        "aggregate",
        "pipeline_log",
        "wheels",
        "measured",
        "calibration",
        "inference_bench",
    },
    {"projection"},
    {"report"},
    {"device_batch"},
    {"cli", "__main__"},
]


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules that `path` imports (`from spen.x import y` names spen.x.y when
    that is a module, else spen.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in known}


def graph() -> dict[str, set[str]]:
    known = modules()
    names = set(known)
    return {name: imports(path, names) - {name} for name, path in known.items()}


def layer(module: str) -> int:
    """The index in LAYERS of the module's top-level part (the package itself: -1, free)."""
    parts = module.split(".")
    if len(parts) == 1:
        return -1
    for index, members in enumerate(LAYERS):
        if parts[1] in members:
            return index
    raise AssertionError(f"{module}: in no layer of tests/test_layers.py; give it one")


def upward(edges: dict[str, set[str]]) -> list[str]:
    """The imports of `edges` that point to a later layer."""
    return sorted(
        f"{source} ({LAYERS[layer(source)]}) imports {target} ({LAYERS[layer(target)]})"
        for source, targets in edges.items()
        for target in targets
        if layer(target) > layer(source) >= 0
    )


def cycles(edges: dict[str, set[str]]) -> list[str]:
    """The import cycles a depth-first walk of `edges` closes, each as `a -> b -> a`."""
    state: dict[str, str] = {}
    found = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_every_import_points_down_a_layer() -> None:
    assert not upward(graph()), "\n".join(upward(graph()))


def test_no_import_cycle() -> None:
    assert not cycles(graph()), "\n".join(cycles(graph()))


def test_the_checks_see_a_cycle_and_an_upward_import() -> None:
    """The checks themselves can fail: a made-up graph with both faults trips them."""
    made_up = {
        "spen.training.loop": {"spen.training.learners"},
        "spen.training.learners": {"spen.training.loop"},
        "spen.data.readers": {"spen.models.build"},
        "spen.models.build": set(),
    }
    assert cycles(made_up) == [
        "spen.training.learners -> spen.training.loop -> spen.training.learners"
    ]
    assert upward(made_up) == [
        "spen.data.readers ({'data'}) imports spen.models.build ({'models'})"
    ]
