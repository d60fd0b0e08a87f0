"""Build the example extension ``_embed`` in place: ``python setup.py build_ext -i``.

The include path that makes ``from fastbp._backprop cimport ...`` resolve is the
directory that *holds* the installed ``fastbp`` package (site-packages), found through
``fastbp.__file__``; FASTBP_INCLUDE overrides it (tests/test_embedding.py sets it to
the fastbp that the test process imported, so build and run use the same one).
"""
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

include = os.environ.get("FASTBP_INCLUDE")
if not include:
    import fastbp
    include = os.path.dirname(os.path.dirname(os.path.abspath(fastbp.__file__)))

setup(
    name="fastbp-embed-example",
    ext_modules=cythonize(
        [Extension("_embed", ["_embed.pyx"], include_dirs=[np.get_include()])],
        include_path=[include],
        compiler_directives={"language_level": 3},
    ),
)
