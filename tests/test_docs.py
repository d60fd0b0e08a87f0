"""The README and the documentation pages work as written.

Every ```python block of README.md and docs/**/*.md runs, the blocks of one page in
order in one namespace (as a reader would paste them), in a temporary working
directory; a block preceded by an ``<!-- not run: REASON -->`` line is left out (a Dask
cluster, Cython source). "path/to/mnist" stands for the MNIST directory, so pages that
train on MNIST need FASTBP_MNIST_DIR (and fail under CI without it, like the MNIST
tests). Relative links must name files that exist. The site itself (gallery included)
is built with warnings as errors by .ci/run.
"""
import re
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
    exec(compile(source, str(page), "exec"), namespace)


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_name_existing_files(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
