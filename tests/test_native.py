"""The native layer as C: its sources compile warning-free, the kernels are chosen
once by CPU features (which an environment variable can turn off), and the worker
pool is visible to and limited by threadpoolctl."""
import io
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp import _blas

ROOT = pathlib.Path(__file__).resolve().parents[1]
SRC = ROOT / "fastbp" / "src"


def _tool(name):
    """The path of a compiler, or skip (fail under CI=true, where it must exist)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
@pytest.mark.parametrize("source", sorted(p.name for p in SRC.glob("*.c")))
def test_c_sources_compile_without_warnings(compiler, source, tmp_path):
    """Every hand-written C file is plain C that -Wall -Wextra finds nothing in."""
    cc = _tool(compiler)
    result = subprocess.run(
        [cc, "-std=c11", "-D_GNU_SOURCE", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror",
         "-ffp-contract=off", "-c", str(SRC / source), "-o", str(tmp_path / "x.o")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_no_pyx_holds_c_in_a_string():
    """C lives in fastbp/src, not in `cdef extern from *` strings of the .pyx files."""
    for pyx in (ROOT / "fastbp").glob("*.pyx"):
        text = pyx.read_text()
        for match in re.finditer(r'cdef extern from \*:\s*\n\s*"""(.*?)"""', text, re.S):
            assert match.group(1).count("\n") <= 5, pyx.name


def _in_child(code, **env):
    """Run code in a fresh interpreter with extra environment variables; its stdout."""
    # the fastbp this test imported, installed or built in place
    where = os.path.dirname(os.path.dirname(fastbp.__file__))
    env = {**os.environ, "PYTHONPATH": where, **env}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=str(ROOT / "tests"))
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


CONFIG = "import fastbp; from fastbp import _blas; print(_blas._config())"


@pytest.mark.parametrize("disable", ["AVX512F,AVX2", "avx2 avx512f", " AVX512F , AVX2,"])
def test_disabled_cpu_features_turn_the_kernels_off(disable):
    out, _ = _in_child(CONFIG, FASTBP_DISABLE_CPU_FEATURES=disable)
    config = eval(out)
    assert config["kernels"] == "none"
    assert "AVX2" not in config["enabled_features"]
    assert "AVX512F" not in config["enabled_features"]
    # the features found are still reported
    here = _blas._config()
    assert config["cpu_features"] == here["cpu_features"]


def test_disabling_avx512_leaves_the_other_features():
    out, _ = _in_child(CONFIG, FASTBP_DISABLE_CPU_FEATURES="AVX512F")
    config = eval(out)
    found = set(_blas._config()["cpu_features"])
    assert set(config["enabled_features"]) == found - {"AVX512F"}
    assert config["kernels"] != "AVX512F"


def test_an_unknown_cpu_feature_is_warned_about():
    code = "import warnings; warnings.simplefilter('always'); " + CONFIG
    out, err = _in_child(code, FASTBP_DISABLE_CPU_FEATURES="AVX2,SSE9")
    assert "FASTBP_DISABLE_CPU_FEATURES" in err and "SSE9" in err
    assert "AVX2" not in eval(out)["enabled_features"]


def test_kernels_in_use_match_the_cpu():
    config = _blas._config()
    if not config["own_kernels_compiled"]:
        assert config["kernels"] == "none"
    elif "AVX512F" in config["enabled_features"]:
        assert config["kernels"] == "AVX512F"
    assert _blas._own_kernels_available() == (config["kernels"] != "none")


@pytest.mark.parametrize("limit", ["1", "2"])
def test_fastbp_num_threads_sets_the_limit(limit):
    out, _ = _in_child("from fastbp import _blas; "
                       "print(_blas._get_num_threads(), _blas._kernel_threads())",
                       FASTBP_NUM_THREADS=limit, OPENBLAS_NUM_THREADS="2")
    own, effective = map(int, out.split())
    assert own == int(limit)
    if _blas._config()["own_kernels_compiled"]:
        assert effective == min(int(limit), 2)


def test_threadpoolctl_lists_and_limits_fastbp():
    import threadpoolctl    # a test dependency

    pools = [info for info in threadpoolctl.threadpool_info()
             if info["user_api"] == "fastbp"]
    assert len(pools) == 1
    assert pools[0]["filepath"] == _blas.__file__
    before = _blas._get_num_threads()
    with threadpoolctl.threadpool_limits(1):
        assert _blas._get_num_threads() == 1
        assert _blas._kernel_threads() == 1
    assert _blas._get_num_threads() == before
    blas_before = [info["num_threads"] for info in threadpoolctl.threadpool_info()
                   if info["user_api"] == "blas"]
    with threadpoolctl.threadpool_limits(1, user_api="fastbp"):
        assert _blas._get_num_threads() == 1
        assert _blas._kernel_threads() == 1
        # the BLAS itself is left alone
        assert blas_before == [info["num_threads"] for info in threadpoolctl.threadpool_info()
                               if info["user_api"] == "blas"]
    assert _blas._get_num_threads() == before


def test_show_config_names_the_compiler_and_the_kernels():
    buffer = io.StringIO()
    fastbp.show_config(file=buffer)
    text = buffer.getvalue()
    config = _blas._config()
    assert f"kernels in use: {config['kernels']}" in text
    assert config["compiler"] in text
    assert config["compiler"].split()[0] in ("gcc", "clang", "msvc", "unknown")
