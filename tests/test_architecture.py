"""The package's imports point down the pipeline only, and never in a circle (docs/architecture.md).

The checker reads the sources with `ast` (nothing is imported), so it sees imports inside functions too, and string
targets of `importlib.import_module`. The planted tests prove it fails on an upward import and on a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "synpt"

# The pipeline in the order data flows; a module may import from its own layer or the layers before it.
LAYERS: list[tuple[str, ...]] = [
    ("synpt", "synpt.errors", "synpt.paths", "synpt.atomic"),
    ("synpt.vocab",),
    ("synpt.tasks",),
    ("synpt.synthetic",),
    ("synpt.natural",),
    ("synpt.downstream",),
    ("synpt.catalog",),
    ("synpt.data",),
    ("synpt.model",),
    ("synpt.init",),
    ("synpt.train",),
    ("synpt.experiments",),
    ("synpt.cli", "synpt.__main__"),
]


def package_sources() -> dict[str, str]:
    """module name -> source text, for every module of the package."""
    sources = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        sources[name] = path.read_text()
    return sources


def layer_of(module: str) -> int:
    """Index of the layer that owns `module` (the longest matching prefix wins)."""
    best, best_len = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer of LAYERS; add it there and to docs/architecture.md"
    return best


def imports_of(module: str, source: str, known: set[str]) -> set[str]:
    """The synpt modules that `module` imports, anywhere in its body."""
    found: set[str] = set()

    def add(name: str) -> None:
        while name and name not in known:  # `from synpt.x import y` where y is a function: the module is synpt.x
            name = name.rpartition(".")[0]
        if name:
            found.add(name)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "synpt":
                    add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{module}: use absolute imports"
            if (node.module or "").split(".")[0] == "synpt":
                for alias in node.names:
                    add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            target = node.args[0] if node.args else None
            if isinstance(target, ast.Constant) and str(target.value).startswith("synpt"):
                add(str(target.value))
    found.discard(module)
    return found


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    known = set(sources)
    return {module: imports_of(module, source, known) for module, source in sources.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """'a -> b' for every import of a later pipeline stage (b) by an earlier one (a)."""
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(module) and not (module == "synpt" and target.startswith("synpt."))
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's __init__ re-exporting its own modules is not a cycle of logic; drop imports of a parent package."""
    return {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}


def test_every_module_is_in_a_layer():
    for module in package_sources():
        layer_of(module)


def test_imports_point_down_the_pipeline():
    assert upward_imports(import_graph(package_sources())) == []


def test_no_import_cycles():
    assert cycles(without_package_inits(import_graph(package_sources()))) == []


def test_a_planted_upward_import_is_found():
    sources = package_sources()
    sources["synpt.vocab"] += "\n\ndef _planted():\n    from synpt.train.trainer import train\n"
    assert upward_imports(import_graph(sources)) == ["synpt.vocab -> synpt.train.trainer"]
    sources = package_sources()
    sources["synpt.model.t5"] += "\nimportlib.import_module('synpt.cli.model')\n"
    assert upward_imports(import_graph(sources)) == ["synpt.model.t5 -> synpt.cli.model"]


def test_a_planted_cycle_is_found():
    sources = package_sources()
    assert "synpt.model.t5" in import_graph(sources)["synpt.model.decoding"]
    sources["synpt.model.t5"] += "\nfrom synpt.model.decoding import beam_search\n"
    assert ["synpt.model.decoding", "synpt.model.t5"] in cycles(without_package_inits(import_graph(sources)))
