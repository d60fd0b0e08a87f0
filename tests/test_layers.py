"""The modules of fastbp/ import each other in layers, read from the source (ast).

Every import between fastbp's Python modules is an edge, at module level or inside a
function alike; the graph must have no circle, so each module sits above everything
it imports. The one kind of import allowed to run back up is named below: the thin
``Network`` methods that hand over to the adapters (``from_sklearn``, ``from_torch``,
``from_onnx``, ``to_onnx``) import them when called, so that ``import fastbp`` does
not import the adapters and the adapters can build networks through the public API.
"""
import ast
import pathlib
import re

import fastbp

PACKAGE = pathlib.Path(fastbp.__file__).parent

# (importing module, function, imported module): the only imports that may point up.
LAZY_UPWARD = {
    ("network", "Network.from_sklearn", "interop"),
    ("network", "Network.from_torch", "interop"),
    ("network", "Network.from_onnx", "onnx"),
    ("network", "Network.to_onnx", "onnx"),
}


def python_modules():
    return {p.stem: p for p in sorted(PACKAGE.glob("*.py"))}


def compiled_modules():
    """The extension modules, from their sources or, where those are not installed,
    from the built files (``_backprop.cpython-311-x86_64-linux-gnu.so``)."""
    return {p.stem for p in PACKAGE.glob("*.pyx")} | \
        {p.name.split(".")[0] for p in PACKAGE.iterdir()
         if p.suffix in (".so", ".pyd") and not p.name.startswith(".")}


def imports_of(name, path, modules):
    """(function or None, imported module) for each import of a fastbp module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []

    def target(parts):
        """The fastbp module named by a dotted path below the package ('' = package)."""
        head = parts[0] if parts else ""
        return head if head in modules or head in compiled_modules() else "__init__"

    def visit(node, scope, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, f"{scope}.{child.name}" if scope else child.name,
                      in_function or not isinstance(child, ast.ClassDef))
                continue
            function = scope if in_function else None
            if isinstance(child, ast.ImportFrom):
                if child.level == 1 or (child.level == 0 and child.module and
                                        child.module.split(".")[0] == "fastbp"):
                    parts = (child.module or "").split(".") if child.level == 1 else \
                        child.module.split(".")[1:]
                    parts = [p for p in parts if p]
                    if parts:
                        found.append((function, target(parts)))
                    else:  # from . import a, b: submodules, or names of the package
                        for alias in child.names:
                            found.append((function, target([alias.name])))
                elif child.level > 1:
                    raise AssertionError(f"{name}: relative import above the package")
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    parts = alias.name.split(".")
                    if parts[0] == "fastbp":
                        found.append((function, target(parts[1:])))
            visit(child, scope, in_function)

    visit(tree, "", False)
    return [(f, m) for f, m in found if m != name]


def import_graph():
    modules = python_modules()
    graph, upward = {}, []
    for name, path in modules.items():
        graph[name] = set()
        for function, imported in imports_of(name, path, modules):
            if imported in compiled_modules():
                continue  # compiled modules are the bottom layer (checked below)
            if (name, function, imported) in LAZY_UPWARD:
                upward.append((name, function, imported))
                continue
            graph[name].add(imported)
    return graph, upward


def layers(graph):
    """Modules by layer (0 imports no Python module), or raise naming a circle."""
    level, visiting = {}, []

    def depth(module):
        if module in level:
            return level[module]
        if module in visiting:
            circle = visiting[visiting.index(module):] + [module]
            raise AssertionError(f"import circle: {' -> '.join(circle)}")
        visiting.append(module)
        level[module] = 1 + max((depth(m) for m in graph[module]), default=-1)
        visiting.pop()
        return level[module]

    for module in graph:
        depth(module)
    return level


def test_no_import_circle_and_no_import_back_up():
    graph, upward = import_graph()
    level = layers(graph)
    assert level["_tables"] < level["_validation"] < level["network"]
    for adapter in ("interop", "onnx", "sklearn"):
        assert level[adapter] > level["network"], (adapter, level)
    # The exceptions are the thin methods only, each importing lazily.
    assert sorted(upward) == sorted(LAZY_UPWARD)


def test_layer_check_finds_a_circle(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    try:
        layers(graph)
    except AssertionError as exc:
        assert "a -> b -> c -> a" in str(exc) or "b -> c -> a -> b" in str(exc)
    else:
        raise AssertionError("a circle was not found")


def test_import_reader_sees_lazy_and_package_imports(tmp_path):
    modules = {"x": None, "y": None, "z": None}
    source = tmp_path / "x.py"
    source.write_text("from . import y\nimport fastbp.z\n"
                      "def f():\n    from . import __version__\n"
                      "class C:\n    def m(self):\n        from .z import q\n")
    found = imports_of("x", source, modules)
    assert sorted(found, key=str) == sorted(
        [(None, "y"), (None, "z"), ("f", "__init__"), ("C.m", "z")], key=str)


def test_compiled_modules_import_no_python_module():
    python = set(python_modules())
    for path in PACKAGE.glob("*.pyx"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^\s*(?:from\s+(?:\.|fastbp\.)(\w+)\s+c?import|"
                                 r"c?import\s+fastbp\.(\w+))", text, re.M):
            imported = match.group(1) or match.group(2)
            assert imported not in python, (path.name, imported)
