"""Packaging: the sdist and wheel, a fresh install from the wheel, and the type stubs.

The ``slow`` tests build the sdist and the wheel with ``python -m build`` from a copy
of the repository's files (never writing into the checkout), check what each archive
holds, and install the wheel into a new virtual environment, where fastbp must import,
train on the shipped digits and answer ``fastbp --version``. They compile fastbp twice
and download its build and runtime dependencies: a few minutes.

The stub tests check the installed ``.pyi`` files: their signatures against the
runtime ones (with ``ast`` and ``inspect``, and with mypy's ``stubtest``), and a small
typed program against them with ``mypy --strict``, so that a wrong stub fails.
"""
import ast
import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

import fastbp
import fastbp.datasets
import fastbp.network

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(fastbp.__file__).resolve().parent
MODULES = ["_blas", "_activations", "_costs", "_optimizers", "_backprop"]
STUBS = ["__init__.pyi", "network.pyi", "datasets.pyi", "_backprop.pyi"]
IN_CI = os.environ.get("CI") == "true"


def unavailable(message):
    """Skip on a developer's machine, fail under CI (CI=true), like the MNIST tests."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_module(name):
    if importlib.util.find_spec(name) is None:
        unavailable(f"{name} is not installed; pip install '.[test]'")


def run(args, timeout, **kwargs):
    """Run a command, failing the test with its output if it fails."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                            **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}")
    return result


def clean_env(**extra):
    """The environment minus what would point a child Python at the source tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def mypy_env():
    """clean_env for mypy: an editable install (``pip install -e .``) is found through
    an import hook that mypy does not follow, so it is told where the tree is (never
    site-packages, which mypy refuses on MYPYPATH)."""
    return clean_env(**({"MYPYPATH": str(PACKAGE_DIR.parent)}
                        if PACKAGE_DIR.parent == REPO else {}))


# -- sdist and wheel -----------------------------------------------------------------

def repository_files():
    """The files a commit of the working tree would hold: tracked and untracked, less
    what .gitignore excludes (so never build output)."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        unavailable(f"{REPO} is not a git checkout (or git is missing)")
    listing = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                  timeout=60, cwd=REPO).stdout
    # Files deleted in the working tree but still in the index do not exist.
    return [name for name in listing.split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """``(sdist, wheel)`` built by ``python -m build`` from a copy of the repository."""
    require_module("build")
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    for name in repository_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    assert not any(p.suffix in (".c", ".so") for p in (source / "fastbp").iterdir()), \
        "the copy holds build output; is .gitignore missing it?"
    outdir = root / "dist"
    # The sdist first, then the wheel built from the unpacked sdist: the way pip and
    # PyPI consumers build it, so a file missing from the sdist breaks the wheel too.
    run([sys.executable, "-m", "build", "--outdir", str(outdir), str(source)],
        timeout=1800, cwd=root, env=clean_env())
    [sdist] = outdir.glob("fastbp-*.tar.gz")
    [wheel] = outdir.glob("fastbp-*.whl")
    return sdist, wheel


@pytest.mark.slow
def test_wheel_contents(dists):
    _, wheel = dists
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    generated_c = sorted(n for n in names if n.endswith((".c", ".cpp")))
    assert not generated_c, f"the wheel ships generated C sources: {generated_c}"
    for module in MODULES:
        assert any(n.startswith(f"fastbp/{module}.") and n.endswith((".so", ".pyd"))
                   for n in names), f"no compiled fastbp.{module} in the wheel"
        # The .pxd files are the C-level API for other Cython code (with the .pyx, for
        # reading); see tests/test_embedding.py.
        assert f"fastbp/{module}.pxd" in names
        assert f"fastbp/{module}.pyx" in names
    for stub in STUBS + ["py.typed"]:
        assert f"fastbp/{stub}" in names
    assert "fastbp/data/digits.csv.gz" in names
    assert "fastbp/data/README.md" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), \
        "the wheel lacks the LICENSE file"
    if sys.platform.startswith("linux"):
        # Built without debug info (setup.py's -g0): no DWARF sections in the modules.
        with zipfile.ZipFile(wheel) as zf:
            for name in names:
                if name.endswith(".so"):
                    assert b".debug_info" not in zf.read(name), f"{name} has debug info"


@pytest.mark.slow
def test_sdist_contents(dists):
    sdist, _ = dists
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for module in MODULES:
        assert f"fastbp/{module}.pyx" in names
        assert f"fastbp/{module}.pxd" in names
    # What tests/test_benchmarks.py imports from benchmarks/, and the licence.
    for required in ("LICENSE", "benchmarks/run.py", "benchmarks/common.py",
                     "benchmarks/report.py", "benchmarks/worker.py", "benchmarks/check.py",
                     "benchmarks/peers/__init__.py", "benchmarks/peers/base.py"):
        assert required in names, f"{required} is missing from the sdist"
    for required in ("setup.py", "pyproject.toml", "README.md", "docs/conf.py",
                     "docs/guide/training.md", "docs/examples/plot_serving.py",
                     "fastbp/data/digits.csv.gz", "fastbp/data/README.md",
                     "fastbp/py.typed", *(f"fastbp/{s}" for s in STUBS)):
        assert required in names, f"{required} is missing from the sdist"
    binaries = sorted(n for n in names if n.endswith((".so", ".pyd", ".o", ".dll")))
    assert not binaries, f"the sdist holds binaries: {binaries}"


SMOKE = """
import os, sys
import numpy as np
import fastbp
from fastbp.datasets import load_digits

here = os.path.dirname(fastbp.__file__)
assert os.path.realpath(here).startswith(os.path.realpath(sys.prefix)), here
X, y = load_digits()
assert X.shape == (1797, 64) and y.shape == (1797,), (X.shape, y.shape)
assert X.dtype == np.float64 and 0 <= X.min() and X.max() <= 1
net = fastbp.Network([64, 30, 10], seed=0)
history = net.fit(X[:1500], y[:1500], epochs=3, batch_size=10, learning_rate=3.0,
                  validation_data=(X[1500:], y[1500:]), seed=0)
assert len(history["val_accuracy"]) == 3, history
accuracy = net.evaluate(X[1500:], y[1500:])
assert accuracy > 0.85, accuracy
X32, _ = load_digits(dtype="float32")
net32 = fastbp.Network([64, 10], dtype="float32", seed=0)
net32.fit(X32, y, epochs=1, batch_size=32, learning_rate=1.0)
assert net32.feedforward(X32[:3]).dtype == np.float32
print(f"ok {fastbp.__version__} {accuracy:.3f}")
"""


@pytest.mark.slow
def test_wheel_installs_and_runs_in_fresh_venv(dists, tmp_path):
    _, wheel = dists
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], timeout=300, env=clean_env())
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    # Resolves numpy and scipy from the index: the wheel's declared dependencies.
    run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        timeout=1800, cwd=tmp_path, env=env)
    # From tmp_path, so that no source tree is importable.
    out = run([str(python), "-c", SMOKE], timeout=600, cwd=tmp_path, env=env).stdout
    assert out.startswith(f"ok {fastbp.__version__} "), out
    version = run([str(bindir / "fastbp"), "--version"], timeout=120, cwd=tmp_path,
                  env=env).stdout
    assert version.strip() == f"fastbp {fastbp.__version__}"
    installed = Path(run([str(python), "-c", "import fastbp; print(fastbp.__file__)"],
                         timeout=120, cwd=tmp_path, env=env).stdout.strip()).parent
    for name in ["py.typed", *STUBS, *(f"{m}.pxd" for m in MODULES)]:
        assert (installed / name).is_file(), f"{name} was not installed"


# -- a source tree without its compiled modules -----------------------------------------

def copy_source_tree(destination):
    """setup.py and fastbp/'s sources (no compiled modules) under ``destination``."""
    shutil.copy2(REPO / "setup.py", destination / "setup.py")
    shutil.copytree(REPO / "fastbp", destination / "fastbp",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__"))
    return destination


def test_import_from_an_unbuilt_source_tree_says_what_to_do(tmp_path):
    """Python run from a checkout's root imports its fastbp/ first: without compiled
    modules there, the ImportError names the tree and the two ways out."""
    if not (REPO / "setup.py").is_file():
        unavailable(f"{REPO} is not a source checkout")
    root = copy_source_tree(tmp_path)
    # -S: no site-packages, so that neither an installed nor an editable fastbp answers.
    result = subprocess.run([sys.executable, "-S", "-c", "import fastbp"], capture_output=True,
                            text=True, timeout=120, cwd=root, env=clean_env())
    assert result.returncode == 1, result
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fastbp is being imported from its source tree"), \
        result.stderr
    assert str(root / "fastbp") in last and "pip install -e ." in last
    assert "another directory" in last
    assert "circular import" not in result.stderr


def test_building_without_a_compiler_names_one_to_install(tmp_path):
    """With no C compiler, setup.py says which to install, in one line, and fails."""
    if not (REPO / "setup.py").is_file():
        unavailable(f"{REPO} is not a source checkout")
    require_module("Cython")
    root = copy_source_tree(tmp_path)
    result = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "-b", str(tmp_path / "b"),
         "-t", str(tmp_path / "t")], capture_output=True, text=True, timeout=600,
        cwd=root, env=clean_env(CC="no-such-cc"))
    assert result.returncode != 0, result
    [line] = [line for line in result.stderr.splitlines() if "C compiler" in line]
    assert "'no-such-cc' was not found" in line and "apt-get install gcc" in line, line
    assert not list((tmp_path / "b").rglob("*.so")), "something was built"


# -- type stubs ----------------------------------------------------------------------

def test_stubs_are_installed():
    """The installed package is typed (PEP 561): py.typed and the stubs ship with it."""
    for name in ["py.typed", *STUBS]:
        assert (PACKAGE_DIR / name).is_file(), \
            f"{name} is not installed next to {fastbp.__file__}"


def stub_tree(name):
    return ast.parse((PACKAGE_DIR / name).read_text(encoding="utf-8"))


def stub_parameters(node):
    """``[(name, kind, default)]`` of an ast function, ``default`` an ast node or None."""
    a = node.args
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    params = [(p.arg, inspect.Parameter.POSITIONAL_ONLY, d)
              for p, d in zip(a.posonlyargs, defaults)]
    params += [(p.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD, d)
               for p, d in zip(a.args, defaults[len(a.posonlyargs):])]
    if a.vararg:
        params.append((a.vararg.arg, inspect.Parameter.VAR_POSITIONAL, None))
    params += [(p.arg, inspect.Parameter.KEYWORD_ONLY, d)
               for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        params.append((a.kwarg.arg, inspect.Parameter.VAR_KEYWORD, None))
    return params


def assert_same_signature(where, node, runtime, overload=False):
    """The stub function ``node`` takes the parameters of ``runtime``, with the same
    kinds and defaults (a stub default of ``...`` stands for any). An ``@overload``
    may make a parameter required that has a default at run time."""
    expected = inspect.signature(runtime).parameters.values()
    got = stub_parameters(node)
    def kind(stub_kind, runtime_kind):   # an overload may make a parameter keyword-only
        narrower = (stub_kind == inspect.Parameter.KEYWORD_ONLY
                    and runtime_kind == inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return runtime_kind if overload and narrower else stub_kind

    assert [(n, kind(k, p.kind)) for (n, k, _), p in zip(got, expected)] == \
        [(p.name, p.kind) for p in expected] and len(got) == len(expected), \
        f"{where}: stub parameters {[n for n, _, _ in got]} differ from the runtime's " \
        f"{[p.name for p in expected]} (or their kinds do)"
    for (name, _, default), param in zip(got, expected):
        has_default = param.default is not inspect.Parameter.empty
        assert (default is not None) == has_default or (overload and has_default), \
            f"{where}: the default of {name!r} is missing in the stub or at run time"
        if default is not None and not (isinstance(default, ast.Constant)
                                         and default.value is Ellipsis):
            assert ast.literal_eval(default) == param.default, \
                f"{where}: stub default {name}={ast.unparse(default)}, " \
                f"runtime {param.default!r}"


def public(name):
    return not name.startswith("_") or name in ("__init__",)


def test_network_stub_matches_runtime():
    [cls] = [n for n in stub_tree("network.pyi").body
             if isinstance(n, ast.ClassDef) and n.name == "Network"]
    methods, properties = {}, set()
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            decorators = {ast.unparse(d) for d in node.decorator_list}
            if decorators & {"property"} or any(d.endswith(".setter") for d in decorators):
                properties.add(node.name)
            else:
                methods[node.name] = node
    runtime = fastbp.Network
    # Classmethods are compared unbound, so that ``cls`` lines up like ``self``.
    unbound = {name: value.__func__ if isinstance(value, classmethod) else value
               for name, value in vars(runtime).items()}
    runtime_methods = {name for name, value in unbound.items()
                       if public(name) and inspect.isfunction(value)}
    runtime_properties = {name for name, value in vars(runtime).items()
                          if not name.startswith("_") and isinstance(value, property)}
    assert runtime_methods <= set(methods), \
        f"public methods without a stub: {sorted(runtime_methods - set(methods))}"
    assert runtime_properties == properties, \
        f"properties: stub {sorted(properties)}, runtime {sorted(runtime_properties)}"
    for name, node in methods.items():
        assert hasattr(runtime, name), f"the stub has Network.{name}, the runtime not"
        assert_same_signature(f"Network.{name}", node, unbound.get(name, getattr(runtime, name)))
    # Setters: a property the runtime can set must be settable in the stub, and back.
    stub_setters = {node.name for node in cls.body if isinstance(node, ast.FunctionDef)
                    and any(ast.unparse(d).endswith(".setter") for d in node.decorator_list)}
    runtime_setters = {name for name in runtime_properties
                       if getattr(runtime, name).fset is not None}
    assert stub_setters == runtime_setters


@pytest.mark.parametrize("stub, module", [("network.pyi", fastbp.network),
                                          ("datasets.pyi", fastbp.datasets)])
def test_module_functions_match_runtime(stub, module):
    functions = {}
    for node in stub_tree(stub).body:
        if isinstance(node, ast.FunctionDef):
            functions.setdefault(node.name, []).append(node)
    runtime = {name for name, value in vars(module).items()
               if not name.startswith("_") and inspect.isfunction(value)
               and value.__module__ == module.__name__}
    assert set(functions) == runtime, \
        f"{stub}: stub functions {sorted(functions)}, runtime {sorted(runtime)}"
    for name, nodes in functions.items():
        for node in nodes:   # every @overload takes the runtime's parameters
            assert_same_signature(f"{module.__name__}.{name}", node, getattr(module, name),
                                  overload=len(nodes) > 1)


def test_package_stub_exports():
    tree = stub_tree("__init__.pyi")
    [exported] = [ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                  and [ast.unparse(t) for t in n.targets] == ["__all__"]]
    assert exported == fastbp.__all__


STUBTEST_ALLOWLIST = r"""
# Cython's module and class internals.
fastbp\._backprop\.(__pyx_capi__|__test__|__reduce_cython__|__setstate_cython__)
fastbp\._backprop\.Engine\.(__reduce_cython__|__setstate_cython__)
# Engine's constructor is __cinit__, which inspect cannot see; and a cdef class is a
# "disjoint base" (newer stubtest asks for @disjoint_base).
fastbp\._backprop\.(Engine|TrainingHyper|OptimizerState)\.__init__
fastbp\._backprop\.(Engine|TrainingHyper|OptimizerState)
fastbp\._backprop\.(TrainingHyper|OptimizerState)\.(__reduce_cython__|__setstate_cython__)
# Internal tables the engine imports from its sibling modules.
fastbp\._backprop\.(ACTIVATIONS|COSTS|OPTIMIZERS)
"""


def test_stubtest(tmp_path):
    """mypy's stubtest: every stubbed name exists at run time with the same signature."""
    require_module("mypy")
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text(STUBTEST_ALLOWLIST)
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nignore_missing_imports = True\n")
    run([sys.executable, "-m", "mypy.stubtest", "fastbp.network", "fastbp.datasets",
         "fastbp._backprop", "--allowlist", str(allowlist), "--ignore-unused-allowlist",
         "--mypy-config-file", str(config)],
        timeout=600, cwd=tmp_path, env=mypy_env())


TYPED_PROGRAM = '''
from typing import Any

from typing_extensions import assert_type

import numpy as np
from numpy.typing import NDArray

import fastbp
from fastbp import Network, load
from fastbp.datasets import load_digits, load_mnist
from fastbp._backprop import Engine

X, y = load_digits()
assert_type(X, NDArray[np.float64])
assert_type(y, NDArray[np.int64])
X32, _ = load_digits("float32")
assert_type(X32, NDArray[np.float32])
assert_type(load_digits(dtype=np.float32)[0], NDArray[np.float32])
(train, validation, test) = load_mnist("mnist", dtype="float32")
assert_type(train[0], NDArray[np.float32])
assert_type(load_mnist()[2][1], NDArray[np.int64])

net = fastbp.Network([64, 30, 10], activation="relu", output_activation="softmax",
                     cost="log_likelihood", init="he", dtype="float32", seed=0)
history = net.fit(X, y, 3, 10, 0.5, validation_data=(X, y), l2=1e-4,
                  optimizer="adam", schedule="plateau", early_stopping=True,
                  callback=lambda n, epoch, h: epoch > 2)
assert_type(history, dict[str, list[float]])
assert_type(net.history, dict[str, list[float]])
assert_type(net.partial_fit(X, y, 10, 0.1, momentum=0.9), dict[str, list[float]])
A: NDArray[np.floating[Any]] = net.feedforward(X[:5])
nabla_b, nabla_w = net.backprop(X[:5], y[:5])
assert_type(nabla_w, list[NDArray[np.floating[Any]]])
cost: float = net.total_cost(X, y, l2=0.1)
accuracy: float = net.evaluate(X, y)
labels = net.predict(X)
assert_type(labels, NDArray[np.intp] | np.intp)
sizes: list[int] = net.sizes
net.weights = [w * 0.5 for w in net.weights]
engine: Engine = net.compiled()
net.save("net.npz")
assert_type(load("net.npz"), Network)
version: str = fastbp.__version__

# Mistakes the stubs must reject (each ignore must be used: --warn-unused-ignores).
fastbp.Network([2, 2], activation="softmax")  # type: ignore[arg-type]
fastbp.Network([2, 2], cost="mse")  # type: ignore[arg-type]
net.fit(X, y, 1.5, 10, 0.1)  # type: ignore[arg-type]
net.fit(X, y, 1, 10, 0.1, optimizer="rmsprop")  # type: ignore[arg-type]
net.fit(X, y, 1, 10, 0.1, nonsense=True)  # type: ignore[call-arg]
# (mypy's code for this error changed from misc to call-arg: ignore both.)
net.partial_fit(X, y, 10, 0.1, True)  # type: ignore
net.evaluate(X)  # type: ignore[call-arg]
net.sizes = [1, 2]  # type: ignore[misc]
'''


def test_mypy_accepts_the_public_api_and_rejects_misuse(tmp_path):
    """mypy --strict on a program using the public API through the installed stubs."""
    require_module("mypy")
    program = tmp_path / "typed_program.py"
    program.write_text(textwrap.dedent(TYPED_PROGRAM))
    # From tmp_path, so that mypy finds the installed package, not a source tree.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--warn-unused-ignores",
         "--no-incremental", "--show-error-codes", "--python-version",
         f"{sys.version_info.major}.{sys.version_info.minor}", str(program)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=mypy_env())
    assert result.returncode == 0, f"mypy:\n{result.stdout}\n{result.stderr}"
