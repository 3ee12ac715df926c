"""The layer rule between esnkit's modules, read from the source with ``ast`` (nothing is imported),
and the extras in pyproject.toml.

Every import statement counts, at module level or inside a function (a lazy import is still a
dependency; benchmarks importing esnkit.plotting inside functions is allowed by the rule anyway);
relative imports are resolved to absolute names, and ``from esnkit import NAME`` to the module
esnkit/__init__.py's lazy map takes NAME from. importlib calls (the lazy map itself) are not seen.
"""

from __future__ import annotations

import ast
import pathlib
import sys
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "esnkit"

# Which layer each module belongs to: a package's modules are in its layer (esnkit.loop.native is "loop").
LAYERS = {
    "esnkit": "init",  # esnkit/__init__.py itself
    "esnkit.__version__": "version",  # a literal in esnkit/__init__.py
    "esnkit._alloc": "base",
    "esnkit._memory": "base",
    "esnkit.errors": "base",
    "esnkit._series": "base",
    "esnkit.params": "base",
    "esnkit._checks": "base",
    "esnkit._dask": "base",
    "esnkit.reservoir": "reservoir",
    "esnkit.loop": "loop",
    "esnkit.readout": "readout",
    "esnkit.metrics": "metrics",
    "esnkit.datasets": "datasets",
    "esnkit._sequence_data": "datasets",
    "esnkit._spatiotemporal": "datasets",
    "esnkit.io": "io",
    "esnkit.tabular": "tabular",
    "esnkit.forecasting": "forecasting",
    "esnkit.models": "models",
    "esnkit.tuning": "tuning",
    "esnkit.plotting": "plotting",
    "esnkit.sklearn": "sklearn",
    "esnkit.benchmarks": "benchmarks",
    "esnkit.cli": "cli",
    "esnkit.__main__": "cli",
}
EVERYTHING = set(LAYERS.values()) - {"cli"}
# layer -> the layers it may import besides its own. Anyone may import esnkit.__version__.
RULES = {
    "base": set(),  # _alloc, _memory, errors, _series, params, _checks, _dask: only each other
    "reservoir": {"base"},
    "loop": {"base", "reservoir"},
    "readout": {"base"},
    "metrics": {"base"},
    "datasets": {"base"},
    "io": {"base"},
    "tabular": {"base"},  # CSV series, read with pandas
    "forecasting": {"base", "reservoir", "loop", "readout", "models", "metrics", "tuning", "plotting", "tabular"},
    "models": {"base", "reservoir", "loop", "readout", "io", "metrics"},
    "tuning": {"base", "reservoir", "loop", "readout", "models", "metrics"},
    "plotting": {"base", "metrics"},
    "sklearn": {"base", "models", "metrics"},
    "benchmarks": {"base", "reservoir", "loop", "readout", "models", "metrics", "datasets", "plotting"},
    "init": EVERYTHING,  # but the optional layers through its lazy __getattr__ only (see OPTIONAL)
    "cli": EVERYTHING | {"cli"},
}
# Imported by esnkit/__init__.py only through its lazy map: no import statement at its module level.
OPTIONAL = {"tuning", "plotting", "benchmarks", "sklearn", "forecasting"}

# (importing file, imported module) pairs allowed to break RULES: none. A new one fails the test.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    """Whether ``name`` is a module or package in the source tree."""
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def lazy_map() -> dict[str, str]:
    """esnkit/__init__.py's lazy map: attribute name -> the module it comes from."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["_LAZY"]:
            return {k: v[0] for k, v in ast.literal_eval(node.value).items()}
    raise AssertionError("esnkit/__init__.py has no _LAZY map")


def layer_of(name: str) -> str | None:
    if name in ("esnkit", "esnkit.__version__"):
        return LAYERS[name]
    matches = [m for m in LAYERS if m.startswith("esnkit.") and (name == m or name.startswith(m + "."))]
    return LAYERS[max(matches, key=len)] if matches else None


def imports(path: pathlib.Path, text: str | None = None) -> list[tuple[str, int, bool]]:
    """The esnkit modules ``path`` (or ``text`` placed there) imports: (absolute name, line, at module level)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text() if text is None else text, filename=str(path))
    lazy = lazy_map()
    found = []

    def visit(node: ast.AST, top: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((a.name, node.lineno, top) for a in node.names if a.name.split(".")[0] == "esnkit")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "esnkit":
                return
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if is_module(sub):
                    found.append((sub, node.lineno, top))
                elif target == "esnkit" and alias.name in lazy:  # from esnkit import ESN: its module
                    found.append((lazy[alias.name], node.lineno, top))
                elif target == "esnkit" and alias.name == "__version__":
                    found.append(("esnkit.__version__", node.lineno, top))
                else:
                    found.append((target, node.lineno, top))
        for child in ast.iter_child_nodes(node):
            visit(child, top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, True)
    return found


def sources() -> list[pathlib.Path]:
    return sorted(PACKAGE.rglob("*.py"))


def violations() -> set[tuple[str, str, str]]:
    """(importing file, imported module, the rule it breaks) for every import against RULES."""
    found = set()
    for path in sources():
        me = module_name(path)
        mine = layer_of(me)
        if mine is None:
            continue  # test_every_module_is_in_a_layer names it
        where = path.relative_to(SRC).as_posix()
        for name, line, top in imports(path):
            theirs = layer_of(name)
            if theirs is None:
                found.add((where, name, f"line {line}: {name} is in no layer of LAYERS"))
            elif theirs in ("version", mine):
                continue
            elif theirs not in RULES[mine]:
                may = ", ".join(sorted(RULES[mine])) or "nothing but itself"
                found.add((where, name, f"line {line}: layer {mine!r} may import {may}; {name} is {theirs!r}"))
            elif mine == "init" and top and theirs in OPTIONAL:
                found.add((where, name, f"line {line}: esnkit/__init__.py imports the optional {theirs!r} at "
                                        "module level; it must come through the lazy __getattr__ (_LAZY)"))
    return found


def test_every_module_is_in_a_layer():
    unplaced = [p.relative_to(SRC).as_posix() for p in sources() if layer_of(module_name(p)) is None]
    assert not unplaced, f"add these modules to LAYERS (and their layer to RULES): {unplaced}"


def test_imports_follow_the_layer_rule():
    found = violations()
    new = sorted(v for v in found if v[:2] not in KNOWN_VIOLATIONS)
    assert not new, "imports against the layer rule:\n" + "\n".join(f"  {f} imports {m} ({why})" for f, m, why in new)
    gone = KNOWN_VIOLATIONS - {v[:2] for v in found}
    if gone:
        warnings.warn(f"KNOWN_VIOLATIONS lists imports that are gone, remove them: {sorted(gone)}", stacklevel=1)


def test_the_rule_keeps_cli_and_tuning_at_the_edges():
    assert [layer for layer, may in RULES.items() if "cli" in may] == ["cli"]
    # the search is used by the command line and the forecasting workflow only (and esnkit.search, lazily)
    assert sorted(layer for layer, may in RULES.items() if "tuning" in may) == ["cli", "forecasting", "init"]
    assert OPTIONAL <= RULES["init"]


@pytest.mark.parametrize("source, imported", [
    ("from ..models.esn import ESN", "esnkit.models.esn"),
    ("from .. import datasets", "esnkit.datasets"),
    ("from .spectral import spectral_radius", "esnkit.reservoir.spectral"),
    ("import esnkit.tuning.driver", "esnkit.tuning.driver"),
    ("from esnkit import ESN", "esnkit.models"),
])
def test_relative_and_package_imports_resolve(source, imported):
    # the import inside a function of a module placed as if it were esnkit/reservoir/probe.py
    found = imports(PACKAGE / "reservoir" / "probe.py", f"def f():\n    {source}\n")
    assert [(name, top) for name, _, top in found] == [(imported, False)]


def test_the_type_checking_imports_of_init_name_the_core_of_its_lazy_map():
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    names = {a.asname or a.name for n in block.body for a in n.names}
    core = {name for name, module in lazy_map().items() if layer_of(module) not in OPTIONAL}
    assert names == core


def test_extras_hold_the_optional_dependencies():
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {k: set(v) for k, v in project["optional-dependencies"].items()}

    def names(reqs):
        return {r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip() for r in reqs}

    assert names(project["dependencies"]) == {"torch", "numpy", "scipy", "safetensors"}
    assert extras["all"] == extras["search"] | extras["plot"] | extras["sklearn"]
    assert extras["test"] >= extras["all"] and "pytest" in names(extras["test"])
    assert {"optuna", "cmaes", "dask", "tqdm"} <= names(extras["search"])
    assert names(extras["plot"]) == {"matplotlib"} and names(extras["sklearn"]) == {"scikit-learn"}
    assert names(extras["datasets"]) == {"sktime", "seglearn"}
