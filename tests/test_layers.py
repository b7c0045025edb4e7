"""The one-way dependency rule, checked on the import graph of the source (every import, lazy ones too).

    core <- faces <- data <- models <- envs/<family> <- fer_select_env <- testing
         <- agents algorithms (common, reinforce, grpo, baselines) <- agents.experiment <- agents

Env families never import one another, nothing in ``fer_select_env`` imports ``agents``, and the agent
algorithms never import the experiment layer. Kept aliases of moved modules (``__alias_of__``) are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS: dict[str, int] = {
    "fer_select_env.core": 0,
    "fer_select_env.faces": 1,
    "fer_select_env.data": 2,
    "fer_select_env.models": 3,
    "fer_select_env.envs": 4,
    "fer_select_env": 5,
    "fer_select_env.testing": 6,
    "agents.common": 7,
    "agents.reinforce": 8,
    "agents.grpo": 8,
    "agents.baselines": 8,
    "agents.sequence": 9,  # settings of the algorithms for one env family, as the experiment layer's
    "agents.reasoning": 9,
    "agents.smile": 9,
    "agents.experiment": 9,
    "agents": 10,
}
"""Package prefix → layer; a module may import only modules of its own layer or lower ones."""

SIBLINGS_APART: dict[str, tuple[str, ...] | None] = {
    "fer_select_env.envs": None,  # every env family
    "agents": ("reinforce", "grpo", "baselines"),  # the algorithms
}
"""Package → its sub-packages that must not import one another (``None``: all of them)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_alias(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__alias_of__" for t in node.targets)
        for node in tree.body
    )


def _imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the importing module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            # "from pkg import submodule" imports the submodule
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("fer_select_env", "agents")}


def _layer(module: str) -> tuple[int, str]:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise AssertionError(f"{module}: no layer assigned; add its package to LAYERS in {__file__}")
    return LAYERS[best], best


def _sibling(module: str) -> tuple[str, str] | None:
    """``(package, member)`` of a module under :data:`SIBLINGS_APART`, e.g. ``("fer_select_env.envs", "select")``."""
    for prefix, members in SIBLINGS_APART.items():
        if module.startswith(prefix + "."):
            member = module[len(prefix) + 1 :].split(".")[0]
            if members is None or member in members:
                return prefix, member
    return None


def _existing(name: str, modules: set[str]) -> str | None:
    """The longest prefix of ``name`` that is a module of the project (``from x import y`` may name a value)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, tuple[set[str], bool]]:
    graph = {}
    for package in ("fer_select_env", "agents"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            module = _module_name(path)
            graph[module] = (_imports(tree, module, path.name == "__init__.py"), _is_alias(tree))
    return graph


GRAPH = _graph()


def test_the_graph_is_read():
    assert "fer_select_env.envs.select.env" in GRAPH and "agents.reinforce.reinforce" in GRAPH
    assert "fer_select_env.core.metrics" in GRAPH["fer_select_env.envs.select.env"][0]


def violations(module: str, imports: set[str], modules: set[str]) -> list[str]:
    """The imports of ``module`` that break the rule; ``modules`` are the project's module names."""
    layer, _ = _layer(module)
    family = _sibling(module)
    bad = []
    for name in sorted(imports):
        target = _existing(name, modules)
        if target is None or target == module:
            continue
        target_layer, _ = _layer(target)
        if target_layer > layer:
            bad.append(f"{target} (layer {target_layer} > {layer})")
        target_family = _sibling(target)
        if family and target_family and target_family[0] == family[0] and target_family != family:
            bad.append(f"{target} (a sibling of {'.'.join(family)})")
    return bad


@pytest.mark.parametrize("module", sorted(m for m, (_, alias) in GRAPH.items() if not alias))
def test_imports_run_one_way(module):
    bad = violations(module, GRAPH[module][0], set(GRAPH))
    assert not bad, f"{module} imports upward or across families: {bad}"


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("fer_select_env.data.scenarios", "fer_select_env.envs.select.rewards"),  # up a layer
        ("fer_select_env.envs.sequence.env", "fer_select_env.envs.select.env"),  # another family
        ("fer_select_env.envs.select.env", "agents.common.selection"),  # the env package imports agents
        ("agents.reinforce.reinforce", "agents.experiment.registry"),  # an algorithm imports the experiment layer
        ("agents.baselines.filters", "agents.reinforce.reinforce"),  # one algorithm imports another
    ],
)
def test_the_checker_catches_a_violation(module, imported):
    tree = ast.parse(f"def f():\n    from {imported.rpartition('.')[0]} import {imported.rpartition('.')[2]}\n")
    imports = _imports(tree, module, False)
    assert violations(module, imports, set(GRAPH) | {module, imported})


def test_aliases_are_the_only_exemptions():
    aliases = sorted(m for m, (_, alias) in GRAPH.items() if alias)
    assert "fer_select_env.env" in aliases and "agents.cli" in aliases
    assert all(not m.startswith(("fer_select_env.envs.", "fer_select_env.core", "agents.experiment")) for m in aliases)
