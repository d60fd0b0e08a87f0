"""fastbp._io: the file formats, and reading a CSV in memory bounded by its width."""
import io

import numpy as np
import pytest

import fastbp
from fastbp import _io


def npy_bytes(array, **kwargs):
    buf = io.BytesIO()
    np.save(buf, array, **kwargs)
    return buf.getvalue()


def test_read_npy_header_reads_what_numpy_writes():
    data = npy_bytes(np.arange(6.0).reshape(2, 3))
    f = io.BytesIO(data)
    assert _io.read_npy_header(f) == ((2, 3), False, np.dtype(float))
    assert len(data) - f.tell() == 6 * 8  # f is at the data


@pytest.mark.parametrize("data, message", [
    (npy_bytes(np.array([{}], dtype=object), allow_pickle=True), "Python objects"),
    (b"\x93NUMPY\x03\x00" + b"\x00" * 40, "format version"),
    (b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8'}  \n", "header is damaged"),
    (b"not npy", "header is damaged"),
])
def test_read_npy_header_refuses_damaged_and_unsafe_headers(data, message):
    with pytest.raises(_io.NpyHeaderError, match=message) as info:
        _io.read_npy_header(io.BytesIO(data))
    assert "allow_pickle" not in str(info.value)


# -- reading a CSV in memory bounded by the width it may have -------------------------

# Each case runs in a child process whose address space is limited to what it holds
# after importing fastbp plus this: a reader whose memory grows with the line (about
# 50 bytes a column) fails these lines of 10-20 million columns.
_HEADROOM = 200 * 2**20

_CHILD = r"""
import contextlib, io, json, os, resource, sys
from fastbp import cli
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
limit = size + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
results = []
for argv in json.loads(sys.argv[2]):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        status = cli.main(argv)
    results.append([status, err.getvalue()])
print(json.dumps(results))
"""


def run_bounded(commands, timeout=600):
    """[(exit status, standard error)] of ``fastbp`` commands run one after the other
    in a child process bounded in memory (``_HEADROOM``) and time."""
    import json
    import os
    import subprocess
    import sys
    # Run where the tested fastbp is importable first (its parent folder): from the
    # repository's root, ``-c`` would import the uncompiled source tree.
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastbp.__file__)))
    result = subprocess.run([sys.executable, "-c", _CHILD, str(_HEADROOM),
                             json.dumps([[str(a) for a in c] for c in commands])],
                            capture_output=True, text=True, timeout=timeout,
                            cwd=package_parent)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def write_text(path, text):
    """``text`` to ``path``, gzipped when the name ends with .gz."""
    import gzip
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", compresslevel=1) as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def not_for_memory(err):
    """Whether an error message is not about memory having run out."""
    return "not enough memory" not in err and "MemoryError" not in err


def valid_rows(rng, n_rows, width):
    return "".join(",".join(f"{v:.3g}" for v in row) + "\n"
                   for row in rng.random((n_rows, width)))


def wide_csv_cases(tmp_path, rng, width):
    """(what, path, line number of the refused line, kind) of CSV files each with one
    line far wider or longer than ``width`` + 1 columns: the line alone, after a
    header, after and before valid rows, one huge field, a whole table joined into
    one line, and lines the width of the network with a huge number appended."""
    cases = []
    for i in range(10):
        kind = ["alone", "header", "between", "field", "joined"][i % 5]
        n = int(rng.integers(10_000_000, 20_000_000))
        token = rng.choice(["0", "1", "0.5", "-2", "1e-3"])
        suffix = ".csv.gz" if i % 3 else ".csv"
        before = int(rng.integers(1, 50)) if kind == "between" else 0
        head = ",".join(f"x{j}" for j in range(width)) + "\n" if kind == "header" else \
            valid_rows(rng, before, width)
        if kind == "field":
            line, problem = "7" * n, "longer than"
        elif kind == "joined":
            rows = n // width
            line = (",".join([token] * width) + ",") * rows
            problem = "columns"
        else:
            line, problem = (token + ",") * n + token, "columns"
        tail = valid_rows(rng, int(rng.integers(0, 5)), width)
        path = write_text(tmp_path / f"{kind}{i}{suffix}", head + line + "\n" + tail)
        number = head.count("\n") + 1
        cases.append((f"{kind} line of {n:,} ({path.name})", path, number, problem))
    return cases


@pytest.mark.parametrize("width", [1, 4, 784])
def test_predict_refuses_a_wide_line_before_holding_it(tmp_path, width):
    import fastbp
    rng = np.random.default_rng(width)
    model = tmp_path / "net.npz"
    fastbp.Network([width, 3, 2], seed=0).save(model)
    cases = wide_csv_cases(tmp_path, rng, width)
    results = run_bounded([["predict", model, path] for _, path, _, _ in cases])
    for (what, path, number, problem), (status, err) in zip(cases, results):
        assert status == 2 and err.count("\n") == 1, (what, status, err)
        assert err.startswith(f"fastbp: error: {path}: ") and f"line {number}" in err, \
            (what, err)
        assert problem in err and not_for_memory(err), (what, err)


def test_train_refuses_a_wide_line_by_what_its_network_could_hold(tmp_path):
    rng = np.random.default_rng(7)
    cases = wide_csv_cases(tmp_path, rng, 5)[:5]
    results = run_bounded([["train", "--data", path, "--hidden", 100, "--epochs", 1,
                            "--quiet"] for _, path, _, _ in cases])
    for (what, path, number, problem), (status, err) in zip(cases, results):
        assert status == 2 and err.count("\n") == 1, (what, status, err)
        assert "line " in err and not_for_memory(err), (what, err)
        if problem == "columns":  # a huge field is read: the memory allows its length
            assert f"line {number}: more than" in err, (what, err)
        if problem == "columns" and number == 1:
            assert "100 neurons in its first hidden layer" in err, (what, err)


def mutate(rng, text):
    """``text`` with one large, random change: a run of columns or of digits inserted
    at a random place, or every line end from a random line on removed."""
    at = int(rng.integers(0, len(text)))
    kind = rng.integers(0, 3)
    n = int(rng.integers(10_000_000, 16_000_000))
    if kind == 0:
        return text[:at] + ",0" * n + text[at:]
    if kind == 1:
        return text[:at] + "9" * (2 * n) + text[at:]
    return text[:at] + (text[at:].replace("\n", ",") * (2 * n // len(text) + 1))


def test_mutated_tables_are_read_or_refused_within_bounded_memory(tmp_path):
    """Valid tables given one large mutation: each is predicted from (exit 0) or
    refused with one line naming the file and a line (exit 2), never for memory."""
    import fastbp
    rng = np.random.default_rng(11)
    model = tmp_path / "net.npz"
    fastbp.Network([6, 4, 3], seed=0).save(model)
    paths = []
    for i in range(8):
        text = ("x1,x2,x3,x4,x5,x6\n" if i % 2 else "") + \
            valid_rows(rng, int(rng.integers(1, 200)), 6 + i % 2)
        paths.append(write_text(tmp_path / f"m{i}.csv{'.gz' * (i % 3 > 0)}",
                                mutate(rng, text)))
    results = run_bounded([["predict", model, path] for path in paths])
    for path, (status, err) in zip(paths, results):
        if status == 0:
            continue
        assert status == 2 and err.count("\n") == 1, (path.name, status, err)
        assert str(path) in err and "line " in err and not_for_memory(err), \
            (path.name, err)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_bounded_reading_gives_what_loadtxt_gives(tmp_path, suffix):
    """Tables within the bound read as np.loadtxt reads them: headers, comments
    (of any length: the bound is on the numbers), blank lines, spaces, and more rows
    than one parsed block."""
    rng = np.random.default_rng(3)

    def long_comment():   # longer than the bound, and than one piece read
        return "# " + "long, " * int(rng.integers(200, 30_000))

    for i in range(6):
        width = int(rng.integers(1, 12))
        table = rng.standard_normal((int(rng.integers(1, 3000 if i else 60_000)), width))
        lines = [", ".join(repr(float(v)) for v in row) for row in table]
        for _ in range(int(rng.integers(0, 5))):
            at = int(rng.integers(0, len(lines)))
            lines.insert(at, rng.choice(["", "   ", "# a comment, with commas,,,",
                                         long_comment()]))
        at = int(rng.integers(0, len(lines)))
        lines[at] += "  " + long_comment()
        lines[-1] += rng.choice(["", "  # trailing"])
        header = "name a, name b\n" if i % 2 else ""
        path = write_text(tmp_path / f"t{i}{suffix}", header + "\n".join(lines) + "\n")
        got = _io.read_csv(str(path), width + 1)
        np.testing.assert_array_equal(got, table)
