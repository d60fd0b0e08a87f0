"""Turn collected results into the Markdown of results.md (and the printed table)."""
from __future__ import annotations

import importlib.metadata
import os
import statistics
from pathlib import Path

import peers
from common import OPENBLAS_TUNING_VARS, THREAD_ENV_VARS, TRAIN_WORKLOADS

#: A timed run whose process got less than this share of a CPU was starved by other
#: load on the machine (it had work for at least one core the whole time).
STARVED_UTIL = 0.9

#: Display scale of each unit: seconds are multiplied by this factor.
UNIT_SCALE = {"s/epoch": 1.0, "ms/call": 1e3, "us/call": 1e6}
WORKLOAD_ORDER = ("W1", "W2", "W3", "W4 single", "W4 single float32", "W4 batch",
                  "W4 batch float32")
WORKLOAD_TEXT = {
    **{k: v.describe() + ", 1 epoch" for k, v in TRAIN_WORKLOADS.items()},
    "W4 single": "W1 network, feedforward of one (784,) example per Python call",
    "W4 single float32": "the same in float32 (not a workload of the issue: half the "
                         "bytes per call)",
    "W4 batch": "W1 network, feedforward of 10,000 examples in one call",
    "W4 batch float32": "the same in float32",
}
VERSION_PACKAGES = ("numpy", "scipy", "threadpoolctl", "psutil", "scikit-learn", "torch",
                    "jax", "jaxlib", "onnxruntime", "Cython")


def fmt(x, digits=3):
    """A number with ``digits`` significant digits ('-' for None)."""
    if x is None:
        return "-"
    return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:.0f}"


def table(header, rows):
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def package_versions():
    out = {}
    for pkg in VERSION_PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def section_header(res):
    meta, m = res["meta"], res["meta"]["machine"]
    args = meta["args"]
    env_notes = [f"`{v}={os.environ[v]}`" for v in OPENBLAS_TUNING_VARS if v in os.environ]
    inherited = [f"`{v}={os.environ[v]}`" for v in THREAD_ENV_VARS if v in os.environ]
    versions = package_versions()
    for name, (ok, vers) in res["available"].items():
        if name == "fastbp":
            versions["fastbp"] = vers.get("fastbp", "?") if ok else "not importable"
    lines = [
        "# fastbp benchmark results",
        "",
        "**These numbers come from one run on a shared, noisy 2-core machine.** Treat "
        "differences under ~20 % as noise; the CPU-util column shows how many cores a "
        "run really kept busy.",
        "",
        f"- Date: {meta['date']}; command: `{meta['command']}`; "
        f"{'quick' if args.quick else 'full'} run, median of {args.repeats} repeats "
        f"(W4: at least 5) after one warm-up, timed in rounds (one repeat of each "
        f"implementation per round); suite took {meta['elapsed_s'] / 60:.1f} min.",
        "- Load average (1, 5, 15 min) at start / end of the run: "
        + " / ".join(", ".join(f"{x:.2f}" for x in la) for la in meta["load"])
        + " (above ~0.1 before the run, something else was using the machine).",
        f"- Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs "
        f"({m['usable_cpus']} usable), ISA: {m['isa'] or '?'}; {m['os']}; "
        f"Python {m['python']}.",
        "- Rows marked *noisy* got less than 0.9 of a core while timed: another process "
        "was competing for the CPU, and their times (and GEMM shares) are not "
        "trustworthy.",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        f"- MNIST loaded with: {res.get('loader') or '?'}."
        + (" **Not MNIST: every \"MNIST\" below means this synthetic stand-in.**"
           if (res.get("loader") or "").startswith("synthetic") else ""),
        "- Threads: each (implementation, thread count) ran in a fresh process with "
        + ", ".join(f"`{v}`" for v in THREAD_ENV_VARS)
        + " set to the thread count (and, for 1 thread, `XLA_FLAGS=--xla_cpu_multi_"
        "thread_eigen=false intra_op_parallelism_threads=1`) before any import, plus "
        "threadpoolctl limits on every loaded BLAS (numpy's and scipy's OpenBLAS, "
        "torch's) and `torch.set_num_threads`.",
        "- OpenBLAS tuning variables: " + (", ".join(env_notes) if env_notes
                                           else "none set (`OPENBLAS_CORETYPE`, "
                                                "`OPENBLAS_L2_SIZE` unset)") + ".",
    ]
    if inherited:
        lines.append("- Thread variables in the parent environment (overridden per job): "
                     + ", ".join(inherited) + ".")
    return "\n".join(lines)


def section_gemm(res):
    rows = []
    for t, rates in sorted(res["gemm"].items(), key=lambda kv: int(kv[0])):
        for dt, r in rates.items():
            rows.append([t, dt, fmt(r["numpy"]), fmt(r["scipy"]),
                         fmt(r["numpy_cpu_util"], 2)])
    return ("## Machine GEMM rate\n\n2048 x 2048 matrix product, best of 5, measured before and after the timed workloads of each thread count and the higher kept (other load on the machine only slows it down), GFLOP/s. "
            "NumPy's is the reference column of the tables below; SciPy's bundled "
            "OpenBLAS (the one fastbp calls through `scipy.linalg.cython_blas`) is shown "
            "too.\n\n" + table(["threads", "dtype", "NumPy GFLOP/s", "SciPy BLAS GFLOP/s",
                                 "CPU util"], rows))


def gemm_ref(res, threads, dtype):
    rates = res["gemm"].get(threads) or res["gemm"].get(str(threads))
    return rates[dtype]["numpy"] if rates else None


def main_rows(res):
    """Rows of the main table, fastbp first, skipped implementations listed."""
    by_key = {(r["workload"], r["impl"], r["threads"]): r for r in res["rows"]}
    errors = {(impl, t): e for impl, t, e in res["errors"]}
    impls = list(res["available"])
    threads = res["meta"]["args"].threads
    wanted = res["meta"]["args"].workloads
    out = []
    for wl in WORKLOAD_ORDER:
        if wl.split()[0] not in wanted:
            continue
        for impl in impls:
            ok, _ = res["available"][impl]
            if not ok:
                out.append([wl, impl, "-", "skipped (not installed)", "", "", "", "", "", ""])
                continue
            for t in threads:
                r = by_key.get((wl, impl, t))
                if r is None:
                    if (impl, t) in errors:
                        out.append([wl, impl, t, f"failed: {errors[(impl, t)]}",
                                    "", "", "", "", "", ""])
                    continue
                out.append(format_row(res, r, by_key.get((wl, "fastbp", t))))
    return out


def format_row(res, r, base):
    scale = UNIT_SCALE[r["unit"]]
    ratio = fmt(r["median"] / base["median"], 3) + "x" if base else "n/a"
    gflops = r["flops"] / r["median"] / 1e9
    gemm = gemm_ref(res, r["threads"], r["dtype"])
    gemm_txt = f"{fmt(gemm)} ({100 * gflops / gemm:.0f} %)" if gemm else "-"
    notes = []
    if r["cpu_util"] < STARVED_UTIL:
        notes.append("**noisy: CPU util < 0.9, other load took the core**")
    if r.get("compile_s") is not None:
        notes.append(f"compile {r['compile_s']:.2f} s (excluded)")
    cls = peers.get(r["impl"])
    notes += [n for n in (cls.note, cls.inference_note if r["workload"].startswith("W4")
                          else "") if n]
    return [r["workload"], r["impl"], r["threads"],
            f"{fmt(r['median'] * scale)} {r['unit']}",
            f"{fmt(r['min'] * scale)}–{fmt(r['max'] * scale)}", ratio, fmt(gflops),
            gemm_txt, fmt(r["cpu_util"], 2), "; ".join(notes)]


def section_main(res):
    header = ["workload", "implementation", "threads", "median", "min–max",
              "time / fastbp", "GFLOP/s", "GEMM GFLOP/s (% reached)", "CPU util", "notes"]
    descr = "\n".join(f"- **{k}**: {v}" for k, v in WORKLOAD_TEXT.items())
    return ("## Results\n\n" + descr + "\n\n"
            "`time / fastbp` > 1 means fastbp is faster by that factor. GFLOP/s counts "
            "GEMM work only (see README): the row's multiply-adds of its matrix "
            "products, times 2, over its median time. The next column is the machine's "
            "2048 x 2048 GEMM rate at the row's thread count and dtype (the table above) "
            "and, in brackets, the row's GFLOP/s as a percentage of it. That rate is "
            "measured apart from the row, so a share above 100 % means the row ran while "
            "the machine was less loaded than when the rate was measured, or its small "
            "products ran from cache faster than a 2048 x 2048 product can; it is not "
            "work beyond the machine's peak. Training workloads use "
            f"{_n_train(res)} MNIST examples per epoch.\n\n"
            + table(header, main_rows(res)))


def _n_train(res):
    ns = {r["n"] for r in res["rows"] if r["workload"] in TRAIN_WORKLOADS}
    return ", ".join(f"{n:,}" for n in sorted(ns)) or "-"


def section_scaling(res):
    rows = []
    scaling = [r for r in res["rows"] if r["workload"] == "scaling"]
    for impl in res["available"]:
        mine = sorted((r for r in scaling if r["impl"] == impl), key=lambda r: r["n"])
        if not mine:
            continue
        base = mine[0]["median"] / mine[0]["n"]
        for r in mine:
            per = r["median"] / r["n"]
            rows.append([impl, f"{r['n']:,}", fmt(r["median"]), fmt(per * 1e6),
                         fmt(per / base, 3)])
    if not rows:
        return ""
    return ("## Scaling (W1, 1 thread)\n\nTime per epoch should grow linearly with the "
            "number of examples, i.e. the time per example should stay flat.\n\n"
            + table(["implementation", "examples", "s/epoch", "µs/example",
                     "per-example vs smallest"], rows))


def mib(b):
    return "-" if b is None else f"{b / 2**20:.1f}"


def section_memory(res):
    if not res["memory"]:
        return ""
    rows = [[m["impl"], f"{m['n']:,}", m["steps"], mib(m["maxrss_bytes"]),
             mib(m["rss_ready"]), mib(m["rss_growth_epoch2"]),
             f"{m['traced_net_epoch2']:,}", f"{m['traced_peak_epoch2']:,}"]
            for m in res["memory"]]
    return ("## Memory (W1 training, fresh process, 1 thread)\n\n"
            "Peak RSS is `ru_maxrss` of the whole process (MNIST in float64 is ~440 MiB "
            "of it: train, validation and test). Epoch 2 is traced with tracemalloc "
            "(Python objects and NumPy buffers; not C `malloc` inside extensions, which the "
            "RSS growth column covers). An allocation that grows with the number of SGD "
            "steps would show up as larger epoch-2 numbers for more examples.\n\n"
            + table(["implementation", "examples", "SGD steps", "peak RSS MiB",
                     "RSS after setup MiB", "RSS growth in epoch 2 MiB",
                     "tracemalloc net bytes, epoch 2", "tracemalloc peak bytes, epoch 2"],
                    rows))


def section_gil(res):
    if not res["gil"]:
        return ""
    rows = [[g["impl"], f"{g['n']:,}", fmt(g["train"]["ratio"], 3),
             fmt(g["train"]["cpu_util_two"], 2), fmt(g["feedforward"]["ratio"], 3),
             fmt(g["feedforward"]["cpu_util_two"], 2)] for g in res["gil"]]
    return ("## GIL release (W1, BLAS at 1 thread)\n\n"
            "Ratio = wall time of two Python threads, each with its own network, working "
            "at once / wall time of one thread doing one. About 1.0 on 2 free cores: the "
            "work runs without the GIL; 2.0: fully serialised. Feedforward: 20 calls on "
            "10,000 examples per thread.\n\n"
            + table(["implementation", "examples", "train ratio", "train CPU util (two)",
                     "feedforward ratio", "feedforward CPU util (two)"], rows))


def section_w5(res):
    """W5: one row per (configuration, threads), fastbp.sklearn beside scikit-learn."""
    if not res.get("w5"):
        return ""
    groups = {}
    for r in res["w5"]:
        groups.setdefault((r["config"], r["threads"]), {}).setdefault(r["impl"], []).append(r)
    rows = []
    for (config, threads), by_impl in groups.items():
        if set(by_impl) != {"fastbp", "sklearn"}:
            continue
        med = {i: statistics.median(r["wall"] for r in runs) for i, runs in by_impl.items()}
        span = {i: f"{min(r['wall'] for r in runs):.2f}–{max(r['wall'] for r in runs):.2f}"
                for i, runs in by_impl.items()}
        acc = {i: f"{100 * statistics.median(r['accuracy'] for r in runs):.2f} %"
               for i, runs in by_impl.items()}
        util = {i: fmt(statistics.median(r["cpu_util"] for r in runs), 2)
                for i, runs in by_impl.items()}
        epochs = by_impl["fastbp"][0]["epochs"]
        rows.append([config, threads, epochs, f"{med['fastbp']:.2f} ({span['fastbp']})",
                     f"{med['sklearn']:.2f} ({span['sklearn']})",
                     f"{med['sklearn'] / med['fastbp']:.2f}x", acc["fastbp"], acc["sklearn"],
                     f"{util['fastbp']} / {util['sklearn']}"])
    n = res["w5"][0]["n"]
    return ("## W5: scikit-learn's MLPClassifier job\n\n"
            f"`MLPClassifier(**config, max_iter=epochs, random_state=0).fit(X, y)` on the "
            f"first {n:,} MNIST training images (float64), fastbp.sklearn's against "
            "scikit-learn's own, each fit in a fresh process, the two alternating repeat "
            "by repeat; \"defaults\" is one hidden layer of 100 ReLU, Adam, batch 200, "
            "alpha 1e-4. Seconds per fit, median (min–max); speed-up = scikit-learn's "
            "median / fastbp's; accuracy on the 10,000 validation images.\n\n"
            + table(["configuration", "threads", "epochs", "fastbp.sklearn s",
                     "scikit-learn s", "speed-up", "fastbp accuracy", "scikit-learn accuracy",
                     "CPU util (fastbp / sklearn)"], rows))


def section_threadpools(res):
    rows = []
    for key, pools in res["threadpools"].items():
        desc = "; ".join(f"{p['prefix']} {p['version'] or ''} ({p['api']}"
                         f"{', ' + p['arch'] if p.get('arch') else ''}): "
                         f"{p['num_threads']}" for p in pools)
        rows.append([key, desc or "none seen"])
    return ("## Thread pools seen by threadpoolctl in each job\n\n"
            + table(["job", "library (API, kernel): threads"], rows))


def section_errors(res):
    if not res["errors"]:
        return ""
    return "## Failures\n\n" + "\n".join(f"- {w} ({t} thread(s)): `{e}`"
                                         for w, t, e in res["errors"])


def section_tried() -> str:
    """The hand-kept log of engine changes and what each gained (tried.md)."""
    path = Path(__file__).with_name("tried.md")
    return path.read_text().strip() if path.exists() else ""


def render(res) -> str:
    """The whole results.md."""
    parts = [section_header(res), section_gemm(res), section_main(res),
             section_scaling(res), section_w5(res), section_memory(res), section_gil(res),
             section_threadpools(res), section_errors(res), section_tried()]
    return "\n\n".join(p for p in parts if p) + "\n"
