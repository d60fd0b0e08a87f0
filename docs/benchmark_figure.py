"""The landing page's figure, drawn from benchmarks/results.md when the site is built.

Parses the main table of the committed results (one thread: time per training epoch
of W1-W3 for fastbp and its peers, and the time of one W4 inference call against
onnxruntime) and writes a PNG, so the figure always shows the committed numbers.
"""
from pathlib import Path

TRAINING = ["W1", "W2", "W3"]
TRAINING_PEERS = ["fastbp", "numpy-matrix", "jax", "torch", "sklearn"]
SERVING = ["W4 single", "W4 batch"]
SERVING_PEERS = ["fastbp", "onnxruntime", "numpy-matrix", "torch"]
LABELS = {"fastbp": "fastbp", "numpy-matrix": "NumPy", "jax": "JAX", "torch": "PyTorch",
          "sklearn": "scikit-learn", "onnxruntime": "onnxruntime"}


def read_results(path):
    """``({(workload, implementation): (median, unit)}, date line)`` of the 1-thread
    rows of the results table in ``path``."""
    rows, date = {}, ""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("- Date:"):
            date = line[len("- Date:"):].split(";")[0].strip()
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("W") or cells[2] != "1":
            continue
        value, _, unit = cells[3].partition(" ")
        try:
            rows[cells[0], cells[1]] = (float(value), unit)
        except ValueError:        # "skipped (not installed)" and the like
            continue
    if not rows:
        raise ValueError(f"{path}: no 1-thread rows in its results table")
    return rows, date


def draw(results_md, out_png):
    """Write the figure of ``results_md`` to ``out_png``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, date = read_results(results_md)
    panels = [(w, TRAINING_PEERS) for w in TRAINING] + [(w, SERVING_PEERS) for w in SERVING]
    fig, axes = plt.subplots(1, len(panels), figsize=(13, 3.2), layout="constrained")
    for ax, (workload, peers) in zip(axes, panels):
        present = [p for p in peers if (workload, p) in rows]
        times = [rows[workload, p][0] for p in present]
        unit = rows[workload, present[0]][1]
        colors = ["C0" if p == "fastbp" else "0.65" for p in present]
        ax.barh([LABELS[p] for p in present], times, color=colors)
        ax.invert_yaxis()
        ax.set_title(workload, fontsize=11)
        ax.set_xlabel(unit.replace("us/", "µs/") + " (lower is better)", fontsize=9)
        ax.tick_params(labelsize=9)
        for y, t in enumerate(times):
            ax.text(t, y, f" {t:.3g}", va="center", fontsize=8)
        ax.set_xlim(0, max(times) * 1.3)
    fig.suptitle(f"One thread, from benchmarks/results.md ({date}): training time per "
                 f"epoch (W1-W3) and inference time per call (W4)", fontsize=10)
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
