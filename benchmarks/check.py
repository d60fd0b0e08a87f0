"""Self-check: the exact implementations compute the same SGD.

Each one trains [784, 30, 10] (sigmoid, quadratic, batch 10, lr 3.0, float64) from the
same initial parameters on the same mini-batches for a few hundred steps; their final
parameters must agree with the NumPy matrix-form peer to ``TOLERANCE``. scikit-learn
(different loss) is only checked to train.
"""
from __future__ import annotations

import numpy as np

import peers
from common import initial_parameters, load_mnist

SIZES, BATCH, LR, DTYPE = (784, 30, 10), 10, 3.0, "float64"
N_EXAMPLES, EPOCHS = 2_000, 2          # 2 x 200 = 400 SGD steps
TOLERANCE = 1e-6
REFERENCE = "numpy-matrix"


def train(name, X, y, W0, b0):
    """Train implementation ``name`` for EPOCHS epochs (seeds 1..EPOCHS)."""
    trainer = peers.get(name)(SIZES, DTYPE, W0, b0, BATCH, LR)
    trainer.set_data(X, y)
    for epoch in range(1, EPOCHS + 1):
        trainer.train_epoch(seed=epoch)
    return trainer.parameters()


def max_abs_diff(p, q):
    """Largest |difference| over all weights and biases of two parameter sets."""
    return max(float(np.max(np.abs(a - b))) for a, b in zip(p[0] + p[1], q[0] + q[1]))


def main() -> int:
    """Run the check; print one line per implementation; return a process exit code."""
    (X, y), _, _, loader = load_mnist(DTYPE)
    X, y = X[:N_EXAMPLES], y[:N_EXAMPLES]
    W0, b0 = initial_parameters(SIZES, DTYPE, seed=0)
    steps = EPOCHS * -(-N_EXAMPLES // BATCH)
    print(f"check: {SIZES}, batch {BATCH}, lr {LR}, {DTYPE}, {steps} SGD steps on "
          f"{N_EXAMPLES} examples ({loader}); tolerance {TOLERANCE:g}")
    ref = train(REFERENCE, X, y, W0, b0)
    moved = max_abs_diff(ref, (W0, b0))
    print(f"  {REFERENCE:13s} reference (parameters moved by up to {moved:.3g} from init)")
    failures = 0
    for name in peers.REGISTRY:
        cls = peers.get(name)
        if name == REFERENCE:
            continue
        if not cls.available():
            print(f"  {name:13s} skipped (not installed)")
            continue
        if "W1" not in cls.workloads:
            print(f"  {name:13s} skipped (does not train: {cls.note})")
            continue
        params = train(name, X, y, W0, b0)
        if not cls.exact:
            ok = max_abs_diff(params, (W0, b0)) > 0
            print(f"  {name:13s} {'trains' if ok else 'FAILED: did not train'} "
                  f"(not compared: {cls.note})")
            failures += not ok
            continue
        diff = max_abs_diff(params, ref)
        ok = diff <= TOLERANCE
        failures += not ok
        print(f"  {name:13s} max |diff| vs {REFERENCE} = {diff:.3g}  "
              f"{'OK' if ok else 'FAILED'}")
    print("check passed" if not failures else f"check FAILED ({failures})")
    return 1 if failures else 0
