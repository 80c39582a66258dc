"""The layering rules of docs/architecture.md ("Layering"), checked on the imports of every module of the library,
`tests/` and `benchmarks/`."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dataset", "render", "model", "train")
# which top-level packages each may import (dataset is the base; nothing imports render but render itself)
ALLOWED = {"dataset": {"dataset"}, "render": {"dataset", "render"}, "model": {"dataset", "model"},
           "train": {"dataset", "model", "train"}}
DRIVERS = ("tests", "benchmarks")
# the modules of tests/ and benchmarks/, by the bare name they are imported under
DRIVER_MODULES = {folder: {path.stem for path in (ROOT / folder).glob("*.py")} for folder in DRIVERS}
# what a test or benchmark may use of a CLI module: the command (entry points, parse_args, flag defaults) and,
# for render-pairs, `render(opts)`, the run whose summary `main` only prints (benchmarks/render.py reads it)
CLI_RUNNERS = {"eopose.render.cli": {"render"}}


def _files(folders):
    for folder in folders:
        yield from ((folder, path) for path in sorted((ROOT / folder).rglob("*.py")))


def _is_cli(module: str) -> bool:
    stem = module.rsplit(".", 1)[-1]
    return stem in ("cli", "__main__") or stem.endswith("_cli")


def _imports(path: Path) -> dict:
    """Absolute module name -> names taken from it (empty for a plain `import`), relative imports resolved
    as in the installed `eopose` namespace; `from package import module` also lists `package.module`."""
    tree = ast.parse(path.read_text())
    parts = ("eopose",) + path.relative_to(ROOT).with_suffix("").parts
    imported = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported.setdefault(alias.name, set())
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[:len(parts) - node.level]
                module = ".".join(base + ((node.module,) if node.module else ()))
            else:
                module = node.module or ""
            imported.setdefault(module, set()).update(alias.name for alias in node.names)
            for alias in node.names:
                imported.setdefault(f"{module}.{alias.name}", set())
    return imported


def _eopose_modules(imported: dict) -> set:
    return {name for name in imported if name.startswith("eopose.")}


@pytest.mark.parametrize("package,path", list(_files(PACKAGES)), ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_library_layering(package, path):
    imported = _imports(path)
    names = _eopose_modules(imported)
    where = path.relative_to(ROOT)
    layers = {name.split(".")[1] for name in names}
    assert layers <= ALLOWED[package], f"{where} imports {sorted(layers - ALLOWED[package])}"
    if not _is_cli(path.stem):
        clis = sorted(n for n in names if _is_cli(n))
        assert not clis, f"{where} imports a CLI module: {clis}"
    if not path.is_relative_to(ROOT / "train") or path.parent.name in ("evaluation", "inference"):
        assert not any(n.startswith("eopose.train.trainer") for n in names), \
            f"{where} imports the trainer; load models through eopose.model.loading"
    tops = {name.split(".")[0] for name in imported}
    drivers = sorted(tops & (set(DRIVERS) | DRIVER_MODULES["tests"] | DRIVER_MODULES["benchmarks"]))
    assert not drivers, f"{where} imports from tests/ or benchmarks/: {drivers}"


@pytest.mark.parametrize("folder,path", list(_files(DRIVERS)), ids=lambda v: str(v).removeprefix(f"{ROOT}/"))
def test_tests_and_benchmarks_reach_the_library_through_eopose(folder, path):
    imported = _imports(path)
    where = path.relative_to(ROOT)
    tops = {name.split(".")[0] for name in imported}
    assert not tops & set(PACKAGES), \
        f"{where} imports {sorted(tops & set(PACKAGES))} by folder name; import eopose.{{dataset,render,model,train}}"
    assert "importlib.util" not in imported or not {"spec_from_file_location", "module_from_spec"} & \
        imported["importlib.util"], f"{where} loads a module by file path"
    # a test imports a sibling (helper or test module) by bare name (pytest puts tests/ on sys.path);
    # a benchmark imports no other benchmark and, of tests/, only helpers (not test_* modules)
    local = tops & (DRIVER_MODULES["tests"] | DRIVER_MODULES["benchmarks"])
    if folder == "benchmarks":
        assert local <= DRIVER_MODULES["tests"] - {"conftest"} and not any(n.startswith("test_") for n in local), \
            f"{where} imports {sorted(local)}; a benchmark may import only tests/ helpers"
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # sys.path is only ever given tests/, for a benchmark's test helper
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("sys.path.insert", "sys.path.append"):
            assert folder == "benchmarks" and "'tests'" in ast.unparse(node.args[-1]), \
                f"{where}:{node.lineno} changes sys.path; reach the library as eopose.*"


@pytest.mark.parametrize("folder,path", list(_files(DRIVERS)), ids=lambda v: str(v).removeprefix(f"{ROOT}/"))
def test_tests_and_benchmarks_use_a_cli_only_through_its_command(folder, path):
    imported = _imports(path)
    where = path.relative_to(ROOT)
    aliases = {}  # name bound in the file -> the CLI module it is
    for module, names in imported.items():
        if _is_cli(module) and module.startswith("eopose."):
            for name in names:
                _check_cli_name(where, module, name)
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("eopose."):
            aliases.update({alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names
                            if _is_cli(alias.name)})
        elif isinstance(node, ast.Import):
            aliases.update({alias.asname: alias.name for alias in node.names if alias.asname and _is_cli(alias.name)})
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            _check_cli_name(where, aliases[node.value.id], node.attr)


def _check_cli_name(where, module: str, name: str) -> None:
    command = name in ("main", "parse_args") or name.endswith("_main") or name.isupper()
    assert command or name in CLI_RUNNERS.get(module, ()), \
        f"{where} uses {module}.{name}; drive a CLI through main/parse_args, or move {name} into the library"
