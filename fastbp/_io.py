"""Every file format fastbp reads or writes, and the checks made before reading one.

- the network file (``Network.save`` / ``fastbp.load``): a .npz of the parameter arrays
  and a JSON header, written atomically (``write_atomic``);
- .npy headers and arrays, alone or as members of a .npz, checked before anything of
  their declared size is allocated;
- CSV and .csv.gz tables of numbers, read a line at a time with each line's width and
  length bounded before it is parsed;
- IDX (MNIST's format).

Nothing here knows about options or arguments of a caller: a bad file is a ValueError
(``DataFileError`` for the data files) whose message names the file.
"""
import contextlib
import gzip
import hashlib
import json
import math
import os
import secrets
import stat
import struct
import tokenize
import warnings
import zipfile
import zlib

import numpy as np

from ._backprop import aligned_copy, aligned_empty
from ._validation import check_dtype, check_sizes


class MissingFileError(FileNotFoundError, ValueError):
    """A file that does not exist.

    A FileNotFoundError, as Python's own ``open`` raises, and a ValueError, as fastbp's
    contract promises for every bad argument, so either ``except`` catches it.
    """


MissingFileError.__module__ = "fastbp"   # its public name, in tracebacks too


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the file and the problem."""


# -- paths and atomic writes --------------------------------------------------------

def as_path(path):
    """``path`` as a str: a str, bytes or os.PathLike naming a file, not empty."""
    try:
        # Bytes are decoded as the OS does (os.fsdecode), so that the temporary name
        # joined to them is of the same kind.
        path = os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(f"path must be a str, bytes or os.PathLike, got "
                        f"{type(path).__name__}") from None
    if not path:
        # realpath('') is the working directory, whose parent would receive the file.
        raise ValueError("path must name a file, got an empty string")
    return path


def writable_target(path):
    """(the file ``path`` names, symbolic links followed; its permission bits or None
    when it does not exist yet). Refuses a path that exists and is not a regular file
    (a directory, FIFO or device): writing to one would block, or destroy it."""
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"path: {path!r} exists and is not a regular file")
    return target, stat.S_IMODE(st.st_mode)


def write_atomic(path, write):
    """Write a file with ``write(f)`` (f a binary file object) and put it in place whole.

    The bytes go to a temporary file in the target's folder, are flushed to disk, and
    the file is renamed over ``path`` (a symbolic link's target), so an interrupted
    write never leaves a half-written file there. ``path`` is a str, bytes or
    os.PathLike; one naming something other than a regular file is refused with
    ValueError before anything is written. An existing file keeps its permissions; a
    new one gets those the umask allows.
    """
    path = as_path(path)
    target, mode = writable_target(path)
    fd, tmp = _create_temporary(os.path.dirname(target))
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _create_temporary(directory):
    """(fd, path) of a new file in ``directory``, created with mode 0o666 so that the
    kernel applies the umask (tempfile.mkstemp forces 0o600)."""
    for _ in range(100):
        tmp = os.path.join(directory, f".fastbp-{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                           | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {directory!r}")


# -- the network file ---------------------------------------------------------------

NETWORK_FORMAT = "fastbp.Network"
NETWORK_FORMAT_VERSION = 1

# A network file's header (JSON in a 0-d unicode array) is a few hundred bytes.
_MAX_META_BYTES = 1 << 20


def write_network(path, config, weights, biases):
    """Write a network file: ``config`` (sizes, activation, output_activation, cost,
    init, dtype) as the JSON header, then w1, b1, w2, ... (see ``write_atomic``)."""
    meta = {"format": NETWORK_FORMAT, "version": NETWORK_FORMAT_VERSION, **config}
    arrays = {"meta": np.array(json.dumps(meta))}
    for l, (w, b) in enumerate(zip(weights, biases), start=1):
        arrays[f"w{l}"], arrays[f"b{l}"] = w, b
    write_atomic(path, lambda f: np.savez(f, **arrays))


class _LoadError(Exception):
    """What is wrong with a network file being read (read_network adds its name)."""


def read_network(path, build):
    """``build(weights, biases, meta)`` for the network file at ``path``.

    Raises MissingFileError for a missing file and ValueError naming the file for
    anything else: a damaged zip, a header that is not fastbp's, arrays whose shape or
    dtype differ from what the header says (checked before anything is allocated or
    decompressed), or a configuration ``build`` refuses with TypeError or ValueError.
    """
    if not os.path.isfile(path):
        raise MissingFileError(2, "path: no such file", path)
    try:
        meta, weights, biases = _read_network(path)
        try:
            return build(weights, biases, meta)
        except (TypeError, ValueError) as exc:
            raise _LoadError(f"holds an invalid network ({exc})") from None
    except _LoadError as exc:
        raise ValueError(f"path: {path!r} {exc}") from None
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            EOFError, OverflowError, NotImplementedError, RuntimeError, MemoryError,
            zipfile.BadZipFile, zlib.error, struct.error) as exc:
        # RuntimeError covers RecursionError; zlib.error and struct.error come from
        # damaged compressed or zip data.
        kind = "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__
        raise ValueError(f"path: {path!r} is not a readable fastbp network file "
                         f"({kind}: {exc})") from None


def _read_network(path):
    """(meta, weights, biases) of a network file, its header and arrays checked."""
    file_size = os.path.getsize(path)
    with zipfile.ZipFile(path) as archive:
        members = {}
        for info in archive.infolist():
            problem = zip_member_problem(info, file_size)
            if problem:
                raise _LoadError(f"{problem}: member {info.filename}")
            members[info.filename] = info
        if "meta.npy" not in members:
            raise _LoadError("is not a fastbp network file (it has no meta.npy)")
        meta = _read_meta(archive, members["meta.npy"])
        L = len(meta["sizes"]) - 1
        sizes, dtype = meta["sizes"], meta["dtype"]
        weights, biases = [], []
        for l in range(1, L + 1):
            weights.append(_read_array(archive, members, f"w{l}",
                                       (sizes[l], sizes[l - 1]), dtype))
            biases.append(_read_array(archive, members, f"b{l}", (sizes[l],), dtype))
    return meta, weights, biases


def _read_meta(archive, info):
    """The header's dict, with its configuration checked (no Network built yet)."""
    if info.file_size > _MAX_META_BYTES:
        raise _LoadError(f"is not a fastbp network file (its meta.npy has "
                         f"{info.file_size} bytes)")
    with archive.open(info) as f:
        shape, fortran, dtype = _npy_header(f, "meta")
        if shape != () or dtype.kind != "U":
            raise _LoadError("is not a fastbp network file (meta is not a string)")
        if dtype.itemsize > info.file_size:
            raise _LoadError(f"is truncated (meta.npy declares {info.file_size} bytes, "
                             f"its string needs {dtype.itemsize})")
        raw = _read_exactly(f, dtype.itemsize, "meta")
    text = str(np.frombuffer(raw, dtype=dtype)[0])
    try:
        meta = json.loads(text)
    except RecursionError:
        raise _LoadError("is not a fastbp network file (its JSON header nests too "
                         "deeply)") from None
    except ValueError as exc:
        raise _LoadError(f"is not a fastbp network file (its header is not JSON: "
                         f"{exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != NETWORK_FORMAT:
        raise _LoadError("is not a fastbp network file")
    if meta.get("version") != NETWORK_FORMAT_VERSION:
        raise _LoadError(f"has format version {meta.get('version')!r}; this fastbp "
                         f"reads version {NETWORK_FORMAT_VERSION}")
    missing = [k for k in ("sizes", "activation", "output_activation", "cost", "init",
                           "dtype") if k not in meta]
    if missing:
        raise _LoadError(f"holds an invalid network (its header lacks {missing})")
    try:
        sizes = check_sizes(meta["sizes"])
        dtype = check_dtype(meta["dtype"])
    except (TypeError, ValueError) as exc:
        raise _LoadError(f"holds an invalid network ({exc})") from None
    return {**meta, "sizes": sizes, "dtype": dtype}


def _npy_header(f, name):
    """(shape, fortran_order, dtype) from the .npy header at f's position."""
    try:
        return read_npy_header(f)
    except NpyHeaderError as exc:
        raise _LoadError(f"is not a fastbp network file ({name}.npy: {exc})") from None


def _read_exactly(f, nbytes, name, out=None):
    """nbytes from f (into the writable buffer ``out`` when given)."""
    buf = bytearray(nbytes) if out is None else out
    done = read_into(f, buf, nbytes)
    if done < nbytes:
        raise _LoadError(f"is truncated ({name} has {done} of {nbytes} bytes)")
    return bytes(buf) if out is None else out


def _read_array(archive, members, name, shape, dtype):
    """The array ``name`` (shape, dtype) as an aligned copy, its header checked
    against what the network needs before anything is allocated."""
    info = members.get(f"{name}.npy")
    if info is None:
        raise _LoadError(f"is not a fastbp network file (it has no {name}.npy)")
    with archive.open(info) as f:
        file_shape, fortran, file_dtype = _npy_header(f, name)
        where = f"{'weights' if name[0] == 'w' else 'biases'}[{int(name[1:]) - 1}]"
        if tuple(file_shape) != shape:
            raise _LoadError(f"holds an invalid network ({where} must have shape "
                             f"{shape}, got {tuple(file_shape)})")
        if file_dtype.newbyteorder("=") != dtype.newbyteorder("=") or \
                file_dtype.itemsize != dtype.itemsize:
            raise _LoadError(f"holds an invalid network ({where} must have dtype "
                             f"{dtype}, got {file_dtype})")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes > info.file_size:
            raise _LoadError(f"is truncated ({name}.npy declares {info.file_size} "
                             f"bytes, its array needs {nbytes})")
        out = aligned_empty(shape[::-1] if fortran else shape, dtype)
        _read_exactly(f, nbytes, name, out)
    if file_dtype.byteorder not in ("=", "|") and not file_dtype.isnative:
        out.byteswap(inplace=True)
    if fortran:
        out = aligned_copy(out.T)
    return out


# -- .npy and .npz ------------------------------------------------------------------

# Deflate cannot shrink data by more than this factor: a member declaring more is damaged.
MAX_DEFLATE_RATIO = 1032


def zip_member_problem(info, archive_size=None):
    """Why the zip member ``info`` (a ``zipfile.ZipInfo``) is not read, or None: it is
    encrypted, compressed by a method other than stored or deflated (what NumPy
    writes), or declares more bytes than its compressed size can hold (or, given
    ``archive_size``, a compressed size larger than the whole file)."""
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return (f"uses zip compression method {info.compress_type}; NumPy writes "
                f"stored or deflated members")
    if (archive_size is not None and info.compress_size > archive_size) or (
            info.compress_type == zipfile.ZIP_STORED
            and info.file_size != info.compress_size) or \
            info.file_size > max(info.compress_size, 1) * MAX_DEFLATE_RATIO:
        return (f"is damaged (it declares {info.file_size:,} bytes from "
                f"{info.compress_size:,})")
    return None


def read_into(f, buf, nbytes):
    """Read up to ``nbytes`` from f into the writable buffer ``buf``; return how many
    were read (fewer only at the end of f: the caller says what is truncated)."""
    view, done = memoryview(buf).cast("B"), 0
    while done < nbytes:
        got = f.readinto(view[done:nbytes])
        if not got:
            break
        done += got
    return done


class NpyHeaderError(ValueError):
    """A .npy header that ``read_npy_header`` refuses; the message says why, for the
    caller to put after the file's name."""


def read_npy_header(f):
    """(shape, fortran_order, dtype) of the .npy array at f's position, f then at its
    data; raises NpyHeaderError for a damaged header, a format version other than
    1.0 and 2.0 (what NumPy writes for arrays of numbers), or an array of Python
    objects: fastbp never unpickles data."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise NpyHeaderError(f"it has .npy format version {version}, where NumPy "
                                 f"writes 1.0 or 2.0 for arrays of numbers")
    except NpyHeaderError:
        raise
    except (ValueError, TypeError, SyntaxError, tokenize.TokenError, MemoryError,
            RecursionError, EOFError) as exc:
        # (Python 3.12+ tokenizes the header with the C tokenizer, which reports an
        # unterminated string as tokenize.TokenError, not SyntaxError.)
        # NumPy refuses a long header with advice to load it with allow_pickle=True:
        # the reason is repeated, never the invitation to unsafe loading.
        text = " ".join(str(exc).split())
        reason = "it is longer than NumPy reads safely" if "allow_pickle" in text \
            else text
        raise NpyHeaderError(f"its header is damaged: {reason}") from None
    if dtype.hasobject:
        raise NpyHeaderError(f"it holds Python objects (dtype {dtype}); fastbp reads "
                             f"only arrays of numbers")
    return shape, fortran, dtype


def _npy_array(f, available, where):
    """Read the .npy array at ``f``'s position, where ``available`` bytes remain (the
    size of the file, or of the zip member, magic string and header included).

    The header's shape and dtype are checked before anything of their size is
    allocated: an array of Python objects is refused (fastbp never unpickles data),
    and so is one that declares more bytes than the file holds or than this machine's
    memory.
    """
    begin = f.tell()
    try:
        shape, fortran, dtype = read_npy_header(f)
    except NpyHeaderError as exc:
        raise DataFileError(f"{where}: not a readable .npy array ({exc})") from None
    nbytes = math.prod(shape) * dtype.itemsize
    held = available - (f.tell() - begin)  # what the magic string and header leave
    if nbytes > held:
        raise DataFileError(f"{where}: declares shape {shape} of {dtype} ({nbytes:,} "
                            f"bytes), but holds {max(held, 0):,} bytes: truncated or "
                            f"damaged")
    check_memory(nbytes, f"{where}: an array of shape {shape}")
    data = np.empty(math.prod(shape), dtype=dtype)
    done = read_into(f, data, nbytes)
    if done < nbytes:
        raise DataFileError(f"{where}: truncated ({done:,} of {nbytes:,} bytes of data)")
    return data.reshape(shape, order="F" if fortran else "C")


@contextlib.contextmanager
def _reading(path, kind):
    """Any failure while reading the file ``path`` becomes a DataFileError naming it:
    a damaged file can fail in more ways than a list of exceptions foresees
    (zipfile alone raises BadZipFile, NotImplementedError, RuntimeError, EOFError,
    zlib.error, struct.error)."""
    try:
        yield
    except DataFileError:
        raise
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - see the docstring
        detail = " ".join(str(exc).split())
        if not isinstance(exc, (ValueError, OSError)):
            detail = f"{type(exc).__name__}: {detail}"
        raise DataFileError(f"{path}: not a readable {kind} ({detail})") from None


def read_npy(path):
    """The array of a .npy file (see ``_npy_array``)."""
    with _reading(path, ".npy file"), open(path, "rb") as f:
        return _npy_array(f, os.path.getsize(path), path)


def read_npz(path):
    """{name: array} of a .npz file's .npy members (see ``_npy_array``)."""
    with _reading(path, ".npz file"):
        with zipfile.ZipFile(path) as archive:
            arrays = {}
            for info in archive.infolist():
                name = info.filename
                if not name.endswith(".npy") or name[:-4] in arrays:
                    continue
                problem = zip_member_problem(info)
                if problem:
                    raise DataFileError(f"{path}: member {name} {problem}")
                with archive.open(info) as f:
                    arrays[name[:-4]] = _npy_array(f, info.file_size,
                                                   f"{path}: {name[:-4]}")
            return arrays


def is_zip(path):
    """Whether the file at ``path`` starts as a zip archive (a .npz, a network file)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


# -- CSV --------------------------------------------------------------------------

# A line may hold this many characters per column it is allowed: numbers as NumPy
# prints them to round-trip take at most 24 ("-1.2345678901234567e-100"), and a
# header's names rarely more.
_CHARS_PER_COLUMN = 100
# Lines are read in pieces of this many characters, so that no line is held whole
# before its width is known.
_PIECE_CHARS = 1 << 16


def read_csv(path, max_columns=None, why=""):
    """The numbers of a .csv or .csv.gz file as a 2-D float64 array.

    One example per line, comma-separated; a first line that is not numeric is a
    header, skipped; blank lines and ``#`` comments are skipped, as ``np.loadtxt``
    does. Memory grows with the rows, never with one line: a line with more than
    ``max_columns`` columns (None: no bound), or more columns than the first row, or
    more than ``_CHARS_PER_COLUMN`` characters a column before its comment, is refused
    as soon as that much of it is read, before it is parsed. ``why`` ends the message of a line with
    more than ``max_columns`` columns.
    """
    opener = gzip.open if path.lower().endswith(".gz") else open
    with _reading(path, "CSV file"):
        try:
            with opener(path, "rt") as f:
                table = _CsvReader(f, path, opener, max_columns, why).table()
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            # A truncated or damaged .gz, or a file named .gz that is not gzip.
            raise DataFileError(f"{path}: not a readable gzip file ({exc})") from None
        except UnicodeDecodeError as exc:
            raise DataFileError(f"{path}: not a text file of comma-separated numbers "
                                f"({exc.reason} at byte {exc.start})") from None
    return table


class _CsvReader:
    """One pass over a CSV file's lines (see ``read_csv``)."""

    def __init__(self, f, path, opener, max_columns, why):
        self.f, self.path, self.opener, self.why = f, path, opener, why
        self.max_columns, self.width, self.number = max_columns, None, 0

    def table(self):
        first = self._line()
        if first is None or not first.strip():
            raise DataFileError(f"{self.path}: empty file")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # no rows: said below
                table = np.loadtxt(self._rows(None if _is_header(first) else first),
                                   delimiter=",", ndmin=2, dtype=np.float64)
        except ValueError as exc:
            if isinstance(exc, (UnicodeDecodeError, DataFileError)):
                raise
            self._refuse(self._first_bad_number(None) or str(exc))
        if table.size == 0:
            raise DataFileError(f"{self.path}: no rows of data")
        return table

    def _rows(self, first):
        """The lines holding data, ``first`` (None: none) and those after it, for
        np.loadtxt; each refused as it is read if its width is not the first row's."""
        line = first if first is not None else self._line()
        while line is not None:
            if self.commas or line.split("#", 1)[0].strip():
                columns = self.commas + 1
                if self.width is None:
                    self.width = columns
                elif columns != self.width:
                    self._refuse(self._first_bad_number(self.number) or
                                 f"line {self.number}: {columns} columns where the "
                                 f"first row has {self.width}")
                yield line
            line = self._line()

    def _first_bad_number(self, until):
        """'line N, column C: ...' for the first line before line ``until`` (None: the
        end) with a field that is not a number, or None: a second pass over the file,
        its lines bounded as in the first, for the message of a refused file."""
        with self.opener(self.path, "rt") as f:
            again = _CsvReader(f, self.path, self.opener, self.max_columns, self.why)
            again.width = self.width
            line = again._line()
            while line is not None and (until is None or again.number < until):
                text = line.split("#", 1)[0].strip()
                header = again.number == 1 and _is_header(line)
                for column, field in enumerate(text.split(",") if text else [], start=1):
                    try:
                        float(field)
                    except ValueError:
                        if not header:
                            return (f"line {again.number}, column {column}: "
                                    f"{field.strip()!r} is not a number")
                line = again._line()
        return None

    def _line(self):
        """The next line, or None at the end; refused while it is read if it is too
        long or too wide (see ``read_csv``)."""
        columns = self.max_columns if self.width is None else self.width
        limit = None if columns is None else columns * _CHARS_PER_COLUMN + 1
        self.number += 1
        pieces, commas, length, comment = [], 0, 0, False
        while True:
            piece = self.f.readline(_PIECE_CHARS)
            if not piece:
                break
            if not comment:
                # A comment's text is dropped as it is read (its "#" kept, so that a
                # line holding only a comment stays a line): any length is allowed.
                hash_at = piece.find("#")
                comment = hash_at >= 0
                kept = piece[:hash_at + 1] if comment else piece
                commas += kept.count(",")
                pieces.append(kept)
                length += len(kept)
            if columns is not None and commas >= columns:
                if self.width is not None:
                    self._refuse(f"line {self.number}: more than {self.width} columns "
                                 f"where the first row has {self.width}")
                self._refuse(f"line {self.number}: more than {columns:,} "
                             f"columns{self.why}")
            if limit is not None and length > limit:
                self._refuse(f"line {self.number}: longer than {limit:,} characters, "
                             f"more than {columns:,} numbers take")
            if piece.endswith("\n"):
                break
        self.commas = commas
        return "".join(pieces) if len(pieces) > 1 else pieces[0] if pieces else None

    def _refuse(self, where):
        raise DataFileError(f"{self.path}: not a table of comma-separated numbers "
                            f"({where})")


def _is_header(line):
    try:
        [float(field) for field in line.split(",")]
    except ValueError:
        return True
    return False


# -- data sets --------------------------------------------------------------------

def _labels(values, where):
    values = np.asarray(values)
    if values.ndim != 1:
        raise DataFileError(f"{where}: labels must be one-dimensional, got shape {values.shape}")
    if values.dtype.kind == "f":
        if not (np.isfinite(values).all() and (values == np.round(values)).all()):
            raise DataFileError(f"{where}: labels must be integers (class indices 0..K-1)")
    elif values.dtype.kind not in "iub":
        raise DataFileError(f"{where}: labels must be integers, got dtype {values.dtype}")
    if len(values) and values.min() < 0:
        raise DataFileError(f"{where}: labels must be class indices >= 0, got {values.min():g}")
    # A layer has fewer than 2**31 neurons; larger floats would not even cast to int64.
    if len(values) and values.max() >= 2**31 - 1:
        raise DataFileError(f"{where}: labels must be class indices below 2**31 - 1 (one "
                            f"output per class), got {values.max():g}")
    return values.astype(np.int64)


def _features(values, where, dtype):
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] < 1 or values.shape[0] < 1:
        raise DataFileError(f"{where}: features must be a non-empty 2-D array, got shape "
                            f"{values.shape}")
    if values.dtype.kind not in "fiub":
        raise DataFileError(f"{where}: features must be numbers, got dtype {values.dtype}")
    values = np.ascontiguousarray(values, dtype=dtype)
    if not np.isfinite(values).all():
        raise DataFileError(f"{where}: features contain NaN or infinite values")
    return values


def read_data_sets(path, dtype, first_hidden):
    """{"": (X, y)} of a .npz or .csv file of examples and labels, with "_val" and
    "_test" when a .npz holds X_val/y_val and X_test/y_test (see ``fastbp train
    --help``), for a network with ``first_hidden`` neurons in its first hidden layer:
    a CSV's rows may not be wider than the first layer of weights the memory holds."""
    if not os.path.isfile(path):
        raise DataFileError(f"{path}: no such file")
    lower = path.lower()
    given = {}
    if lower.endswith(".npz"):
        arrays = read_npz(path)
        if "X" not in arrays or "y" not in arrays:
            raise DataFileError(f"{path}: needs arrays X and y, found "
                                f"{', '.join(sorted(arrays)) or 'none'}")
        for suffix in ("", "_val", "_test"):
            xk, yk = "X" + suffix, "y" + suffix
            if (xk in arrays) != (yk in arrays):
                raise DataFileError(f"{path}: has {xk if xk in arrays else yk} "
                                    f"without {yk if xk in arrays else xk}")
            if xk in arrays:
                X = _features(arrays[xk], f"{path}: {xk}", dtype)
                y = _labels(arrays[yk], f"{path}: {yk}")
                if len(X) != len(y):
                    raise DataFileError(f"{path}: {xk} has {len(X)} rows but {yk} has "
                                        f"{len(y)} labels")
                given[suffix] = (X, y)
    elif lower.endswith((".csv", ".csv.gz")):
        memory = memory_bytes()
        # The weights, their copy at an epoch's start and initialisation's temporaries.
        widest = None if memory is None else \
            memory // (np.dtype(dtype).itemsize * 3 * first_hidden) + 1
        table = read_csv(path, widest, f" (features and a label): a network with "
                         f"{first_hidden} neurons in its first hidden layer takes no "
                         f"more inputs in this machine's memory")
        if table.shape[1] < 2:
            raise DataFileError(f"{path}: needs at least two columns (features, "
                                f"then the label)")
        given[""] = (_features(table[:, :-1], path, dtype),
                     _labels(table[:, -1], f"{path}: last column"))
    else:
        raise DataFileError(f"{path}: expected a .npz or .csv file")
    widths = {X.shape[1] for X, _ in given.values()}
    if len(widths) > 1:
        raise DataFileError(f"{path}: the sets have different numbers of features "
                            f"{sorted(widths)}")
    return given


def read_features(path, n_inputs, dtype):
    """Rows of features for ``fastbp predict`` (see its --help)."""
    if not os.path.isfile(path):
        raise DataFileError(f"{path}: no such file")
    lower = path.lower()
    if lower.endswith(".npy"):
        X = read_npy(path)
        if X.ndim == 1:
            X = X[None, :]
    elif lower.endswith(".npz"):
        arrays = read_npz(path)
        if "X" in arrays:
            X = arrays["X"]
        elif len(arrays) == 1:
            X = next(iter(arrays.values()))
        else:
            raise DataFileError(f"{path}: no array X among "
                                f"{', '.join(sorted(arrays)) or 'none'}")
    elif lower.endswith((".csv", ".csv.gz")):
        X = read_csv(path, n_inputs + 1, f": the network takes {n_inputs} features "
                     f"per row (and an optional label)")
    else:
        raise DataFileError(f"{path}: expected a .npy, .npz or .csv file")
    if X.ndim == 2 and X.shape[1] == n_inputs + 1 and not lower.endswith(".npy"):
        X = X[:, :-1]  # a trailing label column, as `fastbp train --data` reads
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise DataFileError(f"{path}: the network takes {n_inputs} features per row, "
                            f"the file has shape {X.shape}")
    return _features(X, path, dtype)


# -- learning curves --------------------------------------------------------------

def write_curves(history, path, image_format, title, cost_name):
    """Write an image with two panels, cost and accuracy per epoch (``history`` as
    ``fastbp train`` keeps it), in ``image_format`` (one matplotlib writes: png, pdf,
    svg, jpg, ...); return the Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax_cost, ax_accuracy = fig.subplots(1, 2)
    epochs = np.arange(1, len(history["train_cost"]) + 1)
    ax_cost.plot(epochs, history["train_cost"], marker=".", label="training")
    ax_cost.plot(epochs, history["val_cost"], marker=".", label="validation")
    ax_cost.set(xlabel="epoch", ylabel=f"cost ({cost_name})", title="Cost")
    ax_accuracy.plot(epochs, 100 * np.asarray(history["train_accuracy"]), marker=".",
                     label="training")
    ax_accuracy.plot(epochs, 100 * np.asarray(history["val_accuracy"]), marker=".",
                     label="validation")
    ax_accuracy.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_cost, ax_accuracy):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format=image_format, dpi=100)
    return fig


# -- memory -------------------------------------------------------------------------

# Where Linux tells a process its cgroup and the cgroup's memory limit (v2 and v1).
_PROC_CGROUP = "/proc/self/cgroup"
_CGROUP_ROOT = "/sys/fs/cgroup"
# cgroup v1 writes "no limit" as a number near 2**63.
_NO_CGROUP_LIMIT = 1 << 60


def memory_bytes():
    """The memory this process may fill, in bytes: the machine's physical memory, or
    its cgroup's limit or its own address-space limit (``ulimit -v``) where lower (in
    a container the kernel kills the process at the container's limit, not the host's
    RAM); None where none can be told."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        physical = None
    limits = [m for m in (physical, cgroup_memory_limit(), _address_space_limit()) if m]
    return min(limits) if limits else None


def _address_space_limit():
    """This process's soft RLIMIT_AS in bytes, or None (unlimited, or not POSIX)."""
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, AttributeError, ValueError, OSError):
        return None
    return None if soft == resource.RLIM_INFINITY or soft <= 0 else soft


def cgroup_memory_limit():
    """The smallest memory limit of this process's cgroup and the cgroup root as the
    process sees them (v2 ``memory.max``, v1 ``memory.limit_in_bytes``), or None."""
    candidates = []
    try:
        with open(_PROC_CGROUP) as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, path = parts[1].split(","), parts[2].lstrip("/")
        if parts[0] == "0" and parts[1] == "":
            candidates += [os.path.join(_CGROUP_ROOT, path, "memory.max"),
                           os.path.join(_CGROUP_ROOT, "memory.max")]
        elif "memory" in controllers:
            base = os.path.join(_CGROUP_ROOT, "memory")
            candidates += [os.path.join(base, path, "memory.limit_in_bytes"),
                           os.path.join(base, "memory.limit_in_bytes")]
    limits = []
    for candidate in candidates:
        try:
            with open(candidate) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < _NO_CGROUP_LIMIT:
            limits.append(int(text))
    return min(limits) if limits else None


def check_memory(nbytes, what, hint=""):
    """Refuse, before allocating it, what needs more than all of the machine's memory:
    NumPy would raise MemoryError, or the kernel kill the process as it filled pages."""
    memory = memory_bytes()
    if memory is not None and nbytes > memory:
        raise DataFileError(f"{what} needs {nbytes / 2**30:,.1f} GiB, more than this "
                            f"machine's {memory / 2**30:,.1f} GiB of memory{hint}")


# -- IDX --------------------------------------------------------------------------

def read_idx(filename, magic, sha256=None, advice=""):
    """Return the uint8 contents of an IDX file as an array shaped by its header.

    ``magic`` is the expected magic number, which also fixes the number of
    dimensions. If ``sha256`` is given, the decompressed contents must have that
    digest. The file is read exactly once; the array is a read-only view of those
    bytes. A bad file is a ValueError naming it; ``advice`` ends the message of a
    file that is damaged or has the wrong digest.
    """
    try:
        if filename.endswith(".gz"):
            with gzip.open(filename, "rb") as fh:
                data = fh.read()
        else:
            with open(filename, "rb") as fh:
                data = fh.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{filename}: corrupt gzip data ({exc}){advice}") from None
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ValueError(f"{filename}: SHA-256 of the decompressed data is {actual}, "
                             f"expected {sha256}{advice}")

    if len(data) < 4:
        raise ValueError(f"{filename}: truncated: {len(data)} bytes, too short for "
                         f"an IDX magic number")
    (found_magic,) = struct.unpack_from(">I", data, 0)
    if found_magic != magic:
        raise ValueError(f"{filename}: bad magic number 0x{found_magic:08x}, expected "
                         f"0x{magic:08x}; is this the right MNIST file?")
    ndim = magic & 0xFF
    header_size = 4 * (1 + ndim)
    if len(data) < header_size:
        raise ValueError(f"{filename}: truncated header: {len(data)} bytes, an IDX "
                         f"header with {ndim} dimension(s) needs {header_size}")
    shape = struct.unpack_from(f">{ndim}I", data, 4)
    expected = header_size + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "too long"
        raise ValueError(f"{filename}: {problem}: header says shape {shape}, so "
                         f"{expected} bytes, but the data has {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)
