"""Sphinx configuration of fastbp's documentation.

Build it from the repository root with ``pip install ".[docs]"`` and
``sphinx-build -W -b html docs docs/_build/html``; the gallery's examples run during
the build, offline (the book's chapter 1 example on MNIST when ``FASTBP_MNIST_DIR`` is
set, else on the digits that ship with fastbp), and the landing page's figure is drawn
from ``benchmarks/results.md``.
"""
import sys
from pathlib import Path

import fastbp

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))
import benchmark_figure  # noqa: E402

# The landing page's figure, from the committed benchmark results (never downloaded).
benchmark_figure.draw(DOCS.parent / "benchmarks" / "results.md",
                      DOCS / "_generated" / "benchmarks.png")

project = "fastbp"
author = "the fastbp developers"
copyright = "2026, the fastbp developers"
version = release = fastbp.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx_gallery.gen_gallery",
    # MathJax copied into the site (_static/mathjax) rather than loaded from a CDN, so
    # the equations render in a site read offline too.
    "sphinx-mathjax-offline",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples", "_generated"]
myst_heading_anchors = 3
# $...$ and $$...$$ are math (the book's notation, rendered by MathJax), and an amsmath
# environment such as {aligned} may stand alone.
myst_enable_extensions = ["dollarmath", "amsmath"]

autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# fastbp's docstrings write the book's notation (w^l, δ^L, ...), which docutils would
# read as markup without this.
default_role = "code"

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    # A failing example fails the build.
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"fastbp {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path = []
html_show_sourcelink = False
