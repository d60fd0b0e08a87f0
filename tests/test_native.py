"""The native layer as C: its sources compile warning-free, the kernels are chosen
once by CPU features (which an environment variable can turn off), and the worker
pool is visible to and limited by threadpoolctl."""
import io
import os
import pathlib
import platform
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
        message = f"{name} is not installed (Debian/Ubuntu: apt-get install {name})"
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
    elif {"AVX2", "FMA"} <= set(config["enabled_features"]):
        assert config["kernels"] == "AVX2"
    else:
        assert config["kernels"] == "none"
    assert _blas._own_kernels_available() == (config["kernels"] != "none")


# The variant of each module's element-wise loops (activations, the NaN/inf check,
# the optimisers' updates), beside the kernels chosen.
SIMD = ("from fastbp import _activations, _backprop, _blas, _optimizers; "
        "print(repr((_blas._config()['kernels'], _activations._simd_variant(), "
        "_backprop._simd_variant(), _optimizers._simd_variant())))")


def _cpu_flags():
    """The CPU's feature flags as Linux reports them (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@pytest.mark.parametrize("disable", ["", "AVX512F", "AVX512F,AVX2"])
def test_disabled_cpu_features_reach_the_element_wise_loops(disable):
    """FASTBP_DISABLE_CPU_FEATURES governs the element-wise loops as it governs the
    kernels: each module runs the widest variant that the features left on allow
    and this CPU has (x86-64-v4: AVX-512 F, CD, BW, DQ, VL; x86-64-v3: AVX2, FMA,
    BMI1, BMI2, as /proc/cpuinfo lists them)."""
    kernels, *variants = eval(_in_child(SIMD, FASTBP_DISABLE_CPU_FEATURES=disable)[0])
    flags = _cpu_flags()
    v3 = {"avx2", "fma", "bmi1", "bmi2"} <= flags
    v4 = v3 and {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags
    if kernels == "AVX512F" and v4:
        expected = "x86-64-v4"
    elif kernels in ("AVX512F", "AVX2") and v3:
        expected = "x86-64-v3"
    else:
        expected = "baseline"
    assert variants == [expected] * 3
    off = {name.strip().upper() for name in disable.split(",")}
    if "AVX512F" in off:
        assert "x86-64-v4" not in variants
    if {"AVX512F", "AVX2"} <= off:
        assert variants == ["baseline"] * 3


# Training with every optimiser and activation through the BLAS alone (fastbp's
# kernels off, so that only the element-wise loops can differ between children),
# then the NaN/inf check, printed exactly.
ELEMENT_WISE = """
import numpy as np, fastbp
from fastbp import _activations, _blas
_blas._use_own_kernels(False)
out = {"variant": _activations._simd_variant()}
rng = np.random.default_rng(11)
for dtype in (np.float64, np.float32):
    X = rng.normal(size=(203, 37)).astype(dtype) * 3
    y = rng.integers(0, 7, 203)
    for activation, cost in (("sigmoid", "quadratic"), ("tanh", "log_likelihood")):
        for kw in ({}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                   {"optimizer": "adam"}):
            net = fastbp.Network([37, 23, 7], activation=activation, cost=cost,
                                 output_activation="softmax" if cost != "quadratic" else None,
                                 seed=2, dtype=dtype)
            net.fit(X, y, epochs=2, batch_size=16, learning_rate=0.05, seed=3, l2=0.5, **kw)
            key = f"{np.dtype(dtype).name}-{activation}-{sorted(kw.items())}"
            out[key] = [a.astype(np.float64).ravel().tolist()
                        for a in net.weights + net.biases + [net.feedforward(X)]]
    bad = X.copy()
    bad[100, 5] = np.inf
    try:
        fastbp.Network([37, 23, 7], dtype=dtype).feedforward(bad)
        out[f"check-{np.dtype(dtype).name}"] = "passed"
    except ValueError as e:
        out[f"check-{np.dtype(dtype).name}"] = str(e)
print(repr(out))
"""


def test_element_wise_variants_give_the_same_bits():
    """Every compiled variant of the element-wise loops (sigmoid, softmax's exp, the
    momentum, Nesterov and Adam updates, the NaN/inf check) gives the bits of the
    others: the same training, run on each, ends with identical parameters."""
    runs = [eval(_in_child(ELEMENT_WISE, FASTBP_DISABLE_CPU_FEATURES=disable)[0])
            for disable in ("", "AVX512F", "AVX512F,AVX2")]
    variants = {run.pop("variant") for run in runs}
    if len(variants) == 1 and os.environ.get("CI") != "true":
        pytest.skip(f"this CPU runs one variant only ({variants.pop()})")
    assert runs[0].keys() == runs[1].keys() == runs[2].keys()
    for key in runs[0]:
        assert runs[1][key] == runs[0][key], key
        assert runs[2][key] == runs[0][key], key
    assert "inf" in runs[0]["check-float64"].lower() or "finite" in runs[0]["check-float64"]


# Training and inference (many rows and one example) of a few networks on one
# instruction set, printed exactly (float.hex), for the test below.
ACROSS_ISAS = """
import numpy as np, fastbp
from fastbp import _blas
out = {"kernels": _blas._config()["kernels"]}
for seed in range(4):
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(5, 70, 3)] + [int(rng.integers(2, 12))]
    for dtype in (np.float64, np.float32):
        X = rng.normal(size=(300, sizes[0])).astype(dtype)
        y = rng.integers(0, sizes[-1], 300)
        net = fastbp.Network(sizes, seed=seed, dtype=dtype)
        net.fit(X, y, epochs=2, batch_size=int(rng.choice([8, 32, 64])), learning_rate=0.5,
                seed=seed)
        rows = net.feedforward(X)
        one = np.stack([net.feedforward(x) for x in X[:5]])
        key = f"{seed}-{np.dtype(dtype).name}"
        out[key] = [a.astype(np.float64).ravel().tolist() for a in net.weights + [rows, one]]
print(repr(out))
"""


@pytest.mark.parametrize("disable", ["AVX512F", "AVX512F,AVX2"])
def test_instruction_sets_agree_to_the_stated_bound(disable):
    """The README's bound between instruction sets: a network trained and run on
    every path of this CPU (its best kernels, AVX2's, none) agrees with the others to
    1e-12 relative in float64 and 1e-5 in float32 (its scale: the largest magnitude)."""
    best = eval(_in_child(ACROSS_ISAS)[0])
    other = eval(_in_child(ACROSS_ISAS, FASTBP_DISABLE_CPU_FEATURES=disable)[0])
    if best["kernels"] == other["kernels"]:
        pytest.skip(f"this CPU runs the same kernels ({best['kernels']}) without {disable}")
    for key in best:
        if key == "kernels":
            continue
        rtol = 1e-12 if key.endswith("float64") else 1e-5
        for a, b in zip(best[key], other[key]):
            a, b = np.array(a), np.array(b)
            assert np.max(np.abs(a - b)) <= rtol * np.max(np.abs(a)), (key, disable)


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


POOL_STRESS = ROOT / "tests" / "c" / "pool_stress.c"
# pool.c's threads exist where the own kernels can (platform.h's guard).
needs_pool = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")),
    reason="fastbp's worker pool is built on x86-64 Linux only")


def _run_under_threadsanitizer(compiler, pool_source, tmp_path):
    """Build tests/c/pool_stress.c against ``pool_source`` with -fsanitize=thread and
    run it: (exit status, stderr)."""
    cc = _tool(compiler)
    exe = tmp_path / f"pool_stress_{compiler}"
    build = subprocess.run(
        [cc, "-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-fsanitize=thread", "-Wall",
         "-Wextra", "-Werror", f"-I{SRC}", str(POOL_STRESS), str(pool_source), "-o",
         str(exe), "-ldl", "-lpthread"], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe), "200"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TSAN_OPTIONS": "halt_on_error=1 exitcode=66"})
    return run.returncode, run.stderr


@needs_pool
@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_the_pool_has_no_data_race_under_threadsanitizer(compiler, tmp_path):
    """Three callers at once use every entry of the pool (fastbp_run, fastbp_start,
    a burst's hand-out and take-back, scratch); ThreadSanitizer sees every access."""
    status, stderr = _run_under_threadsanitizer(compiler, SRC / "pool.c", tmp_path)
    assert status == 0 and "ThreadSanitizer" not in stderr, stderr


@needs_pool
def test_threadsanitizer_reports_a_race_put_into_the_pool(tmp_path):
    """The stress test can fail: with the workers' count of tasks done made a plain
    decrement, ThreadSanitizer reports the race."""
    _tool("clang")   # before reading the source: a wheel's test folder has neither
    source = (SRC / "pool.c").read_text()
    atomic = "__atomic_sub_fetch(&fastbp_pool.remaining, 1, __ATOMIC_SEQ_CST)"
    assert source.count(atomic) == 1
    broken = tmp_path / "pool.c"
    broken.write_text(source.replace(atomic, "--fastbp_pool.remaining"))
    status, stderr = _run_under_threadsanitizer("clang", broken, tmp_path)
    assert status == 66 and "ThreadSanitizer: data race" in stderr, stderr


POOL_PLACEMENT = ROOT / "tests" / "c" / "pool_placement.c"


@needs_pool
def test_a_worker_never_runs_its_task_on_the_callers_processor(tmp_path):
    """The caller pinned to one processor hands out 100 tasks, each after a sleep
    that lets the worker sleep too; no task the worker runs lands on the caller's
    processor. Before the worker moved itself off it, 63 of 65 did on a 2-core
    virtual machine, and a product's two halves shared one core."""
    cc = _tool("gcc")
    exe = tmp_path / "pool_placement"
    build = subprocess.run(
        [cc, "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror",
         f"-I{SRC}", str(POOL_PLACEMENT), str(SRC / "pool.c"), "-o", str(exe), "-ldl",
         "-lpthread"], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe), "100"], capture_output=True, text=True, timeout=120)
    if run.returncode == 77:
        pytest.skip(run.stdout.strip())
    assert run.returncode == 0, run.stdout + run.stderr
