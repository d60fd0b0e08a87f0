"""The README and the documentation pages work as written.

Every ```python block of README.md and docs/**/*.md runs, the blocks of one page in
order in one namespace (as a reader would paste them), in a temporary working
directory; a block preceded by an ``<!-- not run: REASON -->`` line is left out (a Dask
cluster, Cython source). "path/to/mnist" stands for the MNIST directory, so pages that
train on MNIST need FASTBP_MNIST_DIR (and fail under CI without it, like the MNIST
tests). Relative links must name files that exist. The book's equations are written as
math ($...$, rendered by Sphinx), not as plain text, on every page of the site; the
landing page's figure reads the committed benchmark results. The site itself (gallery
included) is built offline with warnings as errors by .ci/run.
"""
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
PAGES = [p for p in PAGES if "_build" not in p.parts and "auto_examples" not in p.parts]
BLOCK = re.compile(r"(<!-- not run: [^\n]*-->\n)?```(\w+)\n(.*?)```", re.S)
MNIST_PLACEHOLDER = "path/to/mnist"


def python_blocks(page):
    return [code for skip, language, code in BLOCK.findall(page.read_text(encoding="utf-8"))
            if language == "python" and not skip]


def test_the_pages_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"README.md", "docs/index.md", "docs/backprop.md",
            "docs/guide/training.md"} <= names
    assert sum(len(python_blocks(p)) for p in PAGES) >= 10


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_run(page, tmp_path, monkeypatch, request):
    source = "\n".join(python_blocks(page))
    if MNIST_PLACEHOLDER in source:
        source = source.replace(MNIST_PLACEHOLDER, request.getfixturevalue("mnist_dir"))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    try:
        exec(compile(source, str(page), "exec"), namespace)
    except ImportError as exc:
        missing = missing_integration_module(exc)
        if missing is None:
            raise
        message = (f"{page.name} needs {missing}, which is not installed: "
                   + ("pip install torch --index-url https://download.pytorch.org/whl/cpu "
                      "(the CPU-only build)" if missing == "torch"
                      else "pip install '.[integration]'"))
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


#: What the integration extra (and PyTorch) add; the pages that use them skip without.
INTEGRATION_MODULES = {"onnx", "onnxruntime", "skl2onnx", "dask", "distributed", "dask_ml",
                       "ray", "torch"}


def missing_integration_module(exc):
    """The integration module whose absence raised ``exc`` (or caused it), or None."""
    while exc is not None:
        name = getattr(exc, "name", None)
        if isinstance(exc, ModuleNotFoundError) and name:
            top = name.split(".")[0]
            return top if top in INTEGRATION_MODULES else None
        exc = exc.__cause__ or exc.__context__
    return None


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_name_existing_files(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


# The book's notation written as plain text: a superscript (w^l, a^{l-1}), a partial
# derivative, a sum, a norm, a gradient, an arrow of assignment, a square, σ'(...).
PLAIN_MATH = re.compile(r"[A-Za-zδσΔ]\^[{\wl−]|∂|Σ|‖|∇|←|²|[δσ]'\(")


def prose(text):
    """``text`` without code blocks, math and code spans: what a reader sees as prose."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", "", text)
    return re.sub(r"`[^`\n]+`", "", text)


def test_prose_finds_plain_math_and_passes_math():
    assert PLAIN_MATH.search(prose("δ^L = ∇_a C ⊙ σ'(z^L)"))
    assert PLAIN_MATH.search(prose("the mean C = (1/n) Σ_x C_x"))
    assert not PLAIN_MATH.search(prose(r"$\delta^L = \nabla_a C \odot \sigma'(z^L)$ and `a^L`"))
    assert not PLAIN_MATH.search(prose("$$\n\\sum_x C_x\n$$\n```python\nx ** 2  # w^l\n```"))


@pytest.mark.parametrize("page", [p for p in PAGES if ROOT / "docs" in p.parents],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_equations_are_math(page):
    text = page.read_text(encoding="utf-8")
    plain = [line.strip() for line in prose(text).splitlines() if PLAIN_MATH.search(line)]
    assert not plain, f"{page.name} writes equations as plain text: {plain}"


def test_math_is_enabled_for_markdown():
    conf = (ROOT / "docs" / "conf.py").read_text(encoding="utf-8")
    assert re.search(r'myst_enable_extensions = \[[^]]*"dollarmath"', conf)
    assert "$" in (ROOT / "docs" / "backprop.md").read_text(encoding="utf-8")


def test_landing_page_figure_reads_the_committed_results(tmp_path):
    """The figure's numbers are the results table's 1-thread medians, and it shows
    fastbp against NumPy, JAX, PyTorch, scikit-learn and onnxruntime."""
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import benchmark_figure
    finally:
        sys.path.remove(str(ROOT / "docs"))
    results = ROOT / "benchmarks" / "results.md"
    rows, date = benchmark_figure.read_results(results)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \w+", date), date
    for workload in benchmark_figure.TRAINING:
        for impl in ("fastbp", "numpy-matrix", "jax", "torch", "sklearn"):
            assert (workload, impl) in rows
    assert ("W4 single", "onnxruntime") in rows and ("W4 batch", "onnxruntime") in rows
    # One value read again with a pattern of its own.
    [w1] = re.findall(r"^\| W1 \| fastbp \| 1 \| ([\d.]+) s/epoch", results.read_text(
        encoding="utf-8"), re.M)
    assert rows["W1", "fastbp"] == (float(w1), "s/epoch")
    out = tmp_path / "figure.png"
    benchmark_figure.draw(results, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "_generated/benchmarks.png" in index
    assert 'pip install . && fastbp train' in index and 'pip install ".[test]" && pytest' in index
