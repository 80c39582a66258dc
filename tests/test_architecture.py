"""The layering rule of docs/architecture.md, checked on the imports of every library module."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dataset", "render", "model", "train")
# which top-level packages each may import (dataset is the base; nothing imports render but render itself)
ALLOWED = {"dataset": {"dataset"}, "render": {"dataset", "render"}, "model": {"dataset", "model"},
           "train": {"dataset", "model", "train"}}


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


def _imports(path: Path) -> set:
    """Absolute `eopose.*` module names imported by a file (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    parts = ("eopose",) + path.relative_to(ROOT).with_suffix("").parts
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("eopose.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[:len(parts) - node.level]
                module = ".".join(base + ((node.module,) if node.module else ()))
            else:
                module = node.module or ""
            if module.startswith("eopose."):
                names.add(module)
                names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("package,path", list(_modules()), ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_layering_and_no_library_module_imports_a_cli(package, path):
    names = _imports(path)
    layers = {name.split(".")[1] for name in names}
    assert layers <= ALLOWED[package], f"{path.relative_to(ROOT)} imports {sorted(layers - ALLOWED[package])}"
    is_cli = path.stem in ("cli", "__main__") or path.stem.endswith("_cli")
    if not is_cli:
        clis = sorted(n for n in names if n.rsplit(".", 1)[-1] in ("cli", "main") and ".cli" in n)
        assert not clis, f"{path.relative_to(ROOT)} imports a CLI module: {clis}"
    if not path.is_relative_to(ROOT / "train") or path.parent.name in ("evaluation", "inference"):
        assert not any(n.startswith("eopose.train.trainer") for n in names), \
            f"{path.relative_to(ROOT)} imports the trainer; load models through eopose.model.loading"
