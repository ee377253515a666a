"""The package's imports go one way: each module imports only from its own layer or those below.

The layers, from the top (see `fcnseg/__init__.py`): the commands and `cli`; `deploy`;
`training`, `inference` and `inspection`, which do not import each other; `metrics` and `overlay`;
`models` and `data`, which do not import each other; `conventions` and `errors`.
Read with `ast`, so nothing is imported and every import statement counts, also those
inside functions.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "fcnseg"
COMMANDS = {
    "fcnseg.train",
    "fcnseg.evaluate",
    "fcnseg.predict",
    "fcnseg.export",
    "fcnseg.convert",
    "fcnseg.inspect",
    "fcnseg.serve_web",
}
# Layer of each part, highest first; parts on one level may not import each other.
LAYERS = [
    {"fcnseg": 6},  # the package's public API imports from every layer
    {command: 5 for command in COMMANDS} | {"fcnseg.data.convert": 5},  # the command's old name
    {"fcnseg.cli": 4},
    {"fcnseg.deploy": 3},
    {"fcnseg.training": 2, "fcnseg.inference": 2, "fcnseg.inspection": 2},
    {"fcnseg.metrics": 1.5, "fcnseg.overlay": 1.5},
    {"fcnseg.models": 1, "fcnseg.data": 1},
    {"fcnseg.conventions": 0, "fcnseg.errors": 0, "fcnseg.files": 0},
]
PARTS = {part: level for layer in LAYERS for part, level in layer.items()}


def part_of(module):
    """The most specific part in `PARTS` that `module` belongs to."""
    names = module.split(".")
    for length in range(len(names), 0, -1):
        prefix = ".".join(names[:length])
        if prefix in PARTS and (length > 1 or module == "fcnseg"):
            return prefix
    raise KeyError(f"{module} belongs to no layer; add it to LAYERS")


def module_name(path, package=PACKAGE):
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path):
    """The fcnseg modules a file imports: for `from a import b`, a.b if it is a module, else a."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if _is_module(name) else node.module)
    return {name for name in found if name == "fcnseg" or name.startswith("fcnseg.")}


def _is_module(name):
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layer_violations(files, package=PACKAGE):
    """(module, imported module) pairs where a module imports from a higher layer or a sibling part."""
    violations = []
    for path in files:
        module = module_name(path, package)
        mine = part_of(module)
        for imported in sorted(imported_modules(path)):
            theirs = part_of(imported)
            if theirs != mine and PARTS[theirs] >= PARTS[mine]:
                violations.append((module, imported))
    return violations


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    assert len(SOURCES) > 40
    for path in SOURCES:
        part_of(module_name(path))


def test_imports_go_down_the_layers_only():
    assert layer_violations(SOURCES) == []


@pytest.mark.parametrize(
    "module, source",
    [
        ("fcnseg/data/specs.py", "from fcnseg.models import build_model\n"),  # sideways
        ("fcnseg/models/layers.py", "import fcnseg.inference.tiling\n"),  # upwards
        ("fcnseg/training/run.py", "from fcnseg.inference import segmenter\n"),  # sideways
        ("fcnseg/inference/tiling.py", "def f():\n    from fcnseg.cli import start\n"),  # upwards, in a function
        ("fcnseg/errors.py", "from fcnseg.data.specs import IGNORE_LABEL\n"),  # upwards from the bottom
        ("fcnseg/deploy/tflite.py", "import fcnseg\n"),  # the public API is the top
    ],
)
def test_an_import_against_the_layers_is_found(tmp_path, module, source):
    copy = tmp_path / module
    copy.parent.mkdir(parents=True)
    copy.write_text((PACKAGE.parent / module).read_text() + source)
    assert layer_violations([copy], tmp_path / "fcnseg")
