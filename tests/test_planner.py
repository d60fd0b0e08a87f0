"""The planner (fastbp/src/planner.c): the one function that chooses which code
computes each product. Its choice on generated shapes is checked against the rules
its table states, with the table's own values; every path it can choose is checked
against OpenBLAS on the same product; and every row of the table cites an A/B that
benchmarks/tried.md holds."""
from pathlib import Path

import numpy as np
import pytest

from fastbp import _blas
from own_kernels import ISAS

TRIED = Path(__file__).resolve().parent.parent / "benchmarks" / "tried.md"
ITEMSIZES = [4, 8]
OWN_PATHS = {"gemm", "dots", "narrow", "gemv", "bp4"}


@pytest.fixture(params=["none"] + ISAS)
def isa(request, use_kernels):
    """Each instruction set whose kernels this CPU can run, and none."""
    return use_kernels(request.param)


def _expected(t, isa, at, bt, m, n, k, batch, itemsize, layer, check, scratch, declined):
    """The planner's rules as its table's comments state them, in their order."""
    own = isa != "none"

    def offered(path):
        return own and path not in declined

    if layer:
        if m >= t["narrow_min_rows"] and n <= t["narrow_max_width"]:
            tile = max(1, _blas._own_gemm_tile_bytes() // itemsize)
            tiled = -(-n // tile) * tile
            fills = n >= t["gemm_tile_fill"] * tiled
            if offered("gemm") and (fills or (itemsize == 8
                                              and m < t["gemm_narrow_f64_rows"])):
                return "gemm", check
            if offered("narrow"):
                return "narrow", check
        if m == 1:
            return ("gemv" if offered("gemv") else "blas_gemv"), False
        if scratch and m >= t["transpose_min_rows"] and n <= t["transpose_max_width"]:
            return "blas_t", False
    if not at and bt and m <= t["dots_max_rows"] and offered("dots"):
        return "dots", False
    own_gemm_size = batch >= t["gemm_min_batch"] or m * n * k >= t["blas_threaded_work"]
    if at and not bt and k <= t["bp4_max_k"] and offered("bp4") and own_gemm_size:
        return "bp4", False
    if offered("gemm") and own_gemm_size:
        return "gemm", False
    return "blas", False


def _k_block(t, path, at, k):
    """The GEMM's BP4 of many terms runs in blocks of them."""
    return int(t["gemm_k_block"]) if path == "gemm" and at and k >= t["gemm_split_k"] else 0


def _grid(t, rng):
    """Shapes around every threshold of the table, and random ones."""
    edges = sorted({1, 2} | {int(v) + d for name, v in t.items()
                             if name.endswith(("rows", "width", "batch", "_k"))
                             and v >= 1
                             for d in (-1, 0, 1)})
    edges = [e for e in edges if e >= 1]
    shapes = []
    for m in edges:
        for n in [1, 10, 30, 40, 63, 64, 65, 100]:
            shapes.append((m, n, int(rng.integers(1, 2000)), m))
    for _ in range(300):
        m, n, k = (int(v) for v in rng.integers(1, 4000, 3))
        batch = m if rng.random() < 0.5 else int(rng.integers(1, 200))
        shapes.append((m, n, k, batch))
    # products just below and above the BLAS's threading work
    w = int(t["blas_threaded_work"])
    shapes += [(10, 100, 784, 10), (10, 30, 784, 10), (10, 80, 784, 10),
               (10, 1, w // 10 - 1, 10), (10, 1, w // 10, 10), (30, 784, 10, 10)]
    # BP4 at a mini-batch (k = the batch) around the bp4 kernel's limit, at W1's and
    # W2's widths (below and above the threading work) and beside the GEMM's batch
    kmax = int(t["bp4_max_k"]) or 16
    shapes += [(m, 784, k, b) for m in (30, 100, 700) for k in (1, 10, kmax, kmax + 1)
               for b in (k, int(t["gemm_min_batch"]))]
    return shapes


def test_planner_follows_its_table(isa):
    """On a generated grid of shapes (both element sizes, each kind of product, each
    path declined in turn), the planner chooses what its table's rules say, and
    tells which paths check X and share one example with a worker."""
    rng = np.random.default_rng(26)
    t = {name: value for name, (value, _) in _blas._plan_limits().items()}
    grid = _grid(t, rng) + [(100, 784, k, 50000) for k in (2047, 2048, 2049, 3380)]
    for m, n, k, batch in grid:
        for itemsize in ITEMSIZES:
            for at, bt, layer in [(False, True, True), (False, True, False),
                                  (False, False, False), (True, False, False)]:
                flag_sets = ([(c, s) for c in (False, True) for s in (False, True)]
                             if layer else [(False, False)])
                for check, scratch in flag_sets:
                    for declined in [(), ("gemm",), ("gemm", "narrow"), ("dots",),
                                     ("bp4",)]:
                        b = m if layer else batch
                        got = _blas._plan_test(at, bt, m, n, k, b, itemsize, layer,
                                               check, scratch, declined)
                        path, checks = _expected(t, isa, at, bt, m, n, k, b, itemsize,
                                                 layer, check, scratch, declined)
                        case = (isa, at, bt, m, n, k, b, itemsize, layer, check,
                                scratch, declined)
                        assert (got["path"], got["checks"]) == (path, checks), case
                        assert got["kc"] == _k_block(t, path, at, k), case
                        assert got["share"] == (path == "gemv" and
                                                n * k * itemsize >= t["gemv_share_bytes"])
                        one_thread = path in ("dots", "bp4", "gemv", "blas_gemv") or (
                            path == "blas" and m * n * k < t["blas_threaded_work"])
                        assert (got["threads"] == 1) == one_thread, case


def test_planner_never_depends_on_the_thread_count():
    """The same plan under every thread limit: results must not change with it."""
    import threadpoolctl

    rng = np.random.default_rng(5)
    shapes = [tuple(int(v) for v in rng.integers(1, 3000, 4)) for _ in range(200)]
    plans = []
    for limit in (1, 2, 4):
        with threadpoolctl.threadpool_limits(limits=limit):
            plans.append([_blas._plan_test(False, True, m, n, k, b, 8, True, True, True)
                          for m, n, k, b in shapes]
                         + [_blas._plan_test(True, False, m, n, k, b, 4)
                            for m, n, k, b in shapes])
    assert plans[0] == plans[1] == plans[2]


def _operands(rng, at, bt, m, n, k, dtype):
    A = rng.normal(size=(k, m) if at else (m, k)).astype(dtype)
    B = rng.normal(size=(n, k) if bt else (k, n)).astype(dtype)
    C = rng.normal(size=(m, n)).astype(dtype)
    return A, B, C


def _paths_for(layer, at, bt, m, k):
    paths = ["blas", "gemm"]
    if at and not bt and k <= 16:
        paths += ["bp4"]
    if not at and bt:
        paths += ["dots"] if m <= 16 else []
        if layer:
            paths += ["narrow", "blas_t"] + (["gemv", "blas_gemv"] if m == 1 else [])
    return paths


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_path_matches_openblas(isa, dtype):
    """Each path the planner can choose, run alone on generated shapes (each kind of
    product, alpha and beta of every sort, rows around every tile), against scipy's
    OpenBLAS on the same product, within (k + 2) eps of the sum of magnitudes; the
    own kernels run wherever the instruction set has them, and the planner's own
    choice (``product``) gives one of these results too. A NaN planted in X is found
    by the paths that say they check it."""
    rng = np.random.default_rng(7)
    eps = np.finfo(dtype).eps
    cases = [(1, 30, 784), (10, 30, 784), (16, 100, 784), (17, 10, 100), (33, 64, 257),
             (300, 30, 784), (260, 10, 50), (30, 784, 10), (100, 784, 10), (13, 65, 16),
             (7, 33, 1)]
    cases += [tuple(int(v) for v in rng.integers(1, 300, 3)) for _ in range(6)]
    for m, n, k in cases:
        for at, bt, layer in [(False, True, True), (False, True, False),
                              (False, False, False), (True, False, False)]:
            A, B, C0 = _operands(rng, at, bt, m, n, k, dtype)
            alpha, beta = (1.0, 0.0) if layer else (float(rng.choice([1.0, -0.5])),
                                                    float(rng.choice([0.0, 1.0, 0.7])))
            want = C0.copy()
            _blas._gemm_test(at, bt, alpha, A, B, beta, want)
            a64 = np.abs(A.astype(np.float64).T if at else A.astype(np.float64))
            b64 = np.abs(B.astype(np.float64).T if bt else B.astype(np.float64))
            bound = (k + 2) * eps * (abs(alpha) * a64 @ b64 + abs(beta) * np.abs(C0)) * 2
            for path in _paths_for(layer, at, bt, m, k) + [None]:
                C = C0.copy()
                ran, declined, found = _blas._product_test(m, layer, at, bt, alpha, A, B,
                                                           beta, C, path)
                if isa == "none" and ran in OWN_PATHS:
                    assert declined, (path, m, n, k)
                    continue
                if declined:
                    # only the own GEMM declines shapes it does not take
                    assert ran == "gemm" and at and bt, (path, m, n, k)
                    continue
                assert np.all(np.abs(C - want) <= bound), (isa, path, ran, m, n, k, at, bt)
                if found is not None:
                    assert found is False
    # The GEMM in blocks of k's terms (BP4 of many rows), the last block partial
    for m, n, k in [(100, 784, 1000), (7, 33, 300)]:
        A, B, C0 = _operands(rng, True, False, m, n, k, dtype)
        want = C0.copy()
        _blas._gemm_test(True, False, -0.5, A, B, 0.7, want)
        bound = (k + 2) * eps * (0.5 * np.abs(A.T.astype(float)) @ np.abs(B.astype(float))
                                 + 0.7 * np.abs(C0)) * 2
        for kc in (64, 256, 999):
            C = C0.copy()
            ran, declined, _ = _blas._product_test(k, False, True, False, -0.5, A, B, 0.7, C,
                                                   "gemm", kc)
            assert declined == (isa == "none")
            if not declined:
                assert np.all(np.abs(C - want) <= bound), (isa, m, n, k, kc)
    # a NaN in X is reported by a checking path, and by product's own pass otherwise
    X = rng.normal(size=(300, 784)).astype(dtype)
    X[123, 45] = np.nan
    W = rng.normal(size=(30, 784)).astype(dtype)
    for path in ["gemm", "narrow"]:
        ran, declined, found = _blas._product_test(300, True, False, True, 1.0, X, W, 0.0,
                                                   np.zeros((300, 30), dtype), path)
        assert declined == (isa == "none") and found is (None if declined else True)


def test_every_row_of_the_table_cites_its_ab():
    """Each threshold names the row of benchmarks/tried.md whose A/B set it."""
    text = TRIED.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("|")]
    limits = _blas._plan_limits()
    assert {"gemm_min_batch", "dots_max_rows", "blas_threaded_work"} <= set(limits)
    for name, (_, tried) in limits.items():
        assert any(row.lstrip("| ").startswith(tried) for row in rows), (name, tried)
