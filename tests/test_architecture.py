"""The package's module graph: imports run one way (no module imports a module that imports it, directly or through
others), and the data layer never reaches up into evaluation."""

import ast
import os

PACKAGE = os.path.join(os.path.dirname(__file__), "..", "oger_trl")


def module_name(path: str) -> str:
    relative = os.path.relpath(path, os.path.dirname(PACKAGE))[: -len(".py")].replace(os.sep, ".")
    return relative[: -len(".__init__")] if relative.endswith(".__init__") else relative


def module_level_imports() -> dict[str, set[str]]:
    """Module -> the package modules its top-level statements import (lazy imports inside functions excluded)."""
    graph = {}
    for folder, _, files in os.walk(PACKAGE):
        for file in (f for f in files if f.endswith(".py")):
            path = os.path.join(folder, file)
            name = module_name(path)
            package = name if file == "__init__.py" else name.rsplit(".", 1)[0]
            imported = set()
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in tree.body:
                if isinstance(node, ast.ImportFrom) and node.level > 0:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    imported.add(f"{base}.{node.module}" if node.module else base)
            graph[name] = imported
    return graph


def test_imports_run_one_way():
    graph = module_level_imports()
    state = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if target not in graph:
                continue
            assert state.get(target) != "open", f"import cycle: {' -> '.join([*path, module, target])}"
            if target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert "oger_trl.trainer" in graph and "oger_trl.batch" in graph["oger_trl.trainer"]  # the walk saw the package


def test_the_data_layer_never_imports_evaluation():
    graph = module_level_imports()
    for module, imported in graph.items():
        if module.startswith("oger_trl.data"):
            assert not any(target.startswith("oger_trl.evaluation") for target in imported), module


def test_no_folder_of_the_test_tree_shadows_a_package():
    """tests/ is on sys.path: a folder there named like a package (as `tests/vllm` once was) makes `find_spec` see a
    namespace package, and TRL's `is_vllm_available()` then fails on its version."""
    tests = os.path.dirname(os.path.abspath(__file__))
    for name in ("vllm", "trl", "transformers", "torch", "peft", "accelerate", "datasets", "deepspeed"):
        assert not os.path.isdir(os.path.join(tests, name)), name
