"""Safe save and load: one ``.safetensors`` file holds weights, buffers and the architecture.

No pickle: a file holds only raw numbers and JSON text, so loading one runs no code from it. The
file follows the standard safetensors layout, which the official ``safetensors`` package (and
PyTorch, JAX...) read and write::

    [8 bytes]  N, the header length, an unsigned little-endian 64-bit integer
    [N bytes]  JSON header: {"__metadata__": {str: str},
                             name: {"dtype": "F32", "shape": [30, 1, 5, 5], "data_offsets": [b, e]}}
    [rest]     the tensors' raw little-endian bytes; tensor ``name`` is bytes b..e of this part

tinyconv puts its own facts as strings in ``__metadata__``: ``tinyconv.kind`` ("module" or
"state_dict"), ``tinyconv.architecture`` (the JSON of ``module.config()``, from which
``tinyconv.nn.build_module`` rebuilds the model), ``tinyconv.version``, ``tinyconv.dtype``, the
user's ``metadata`` as JSON in ``tinyconv.metadata``, and ``tinyconv.sha256``.

Integrity: ``tinyconv.sha256`` is the SHA-256 of a canonical JSON text of the header (every
tensor's name, dtype, shape and offsets, and every other metadata entry) followed by all the
tensor bytes. ``load`` recomputes it, so a truncated file, a flipped byte or an edited header
raises ``ModelFileError`` (a ``ValueError``) naming the file and what is wrong. Files written by
other programs carry no checksum; their structure is still validated (header length within the
file, known dtypes, shape x itemsize = byte length, offsets contiguous, in range, not
overlapping).

Writes are atomic: the bytes go to a temporary file in the same directory, which is flushed,
fsynced and then renamed over the target with ``os.replace``, so a crash or an error while
writing never leaves a half-written model file behind.

Example:
    >>> import os, tempfile, numpy, tinyconv
    >>> model = tinyconv.nn.Sequential(tinyconv.nn.Linear(4, 3), tinyconv.nn.Linear(3, 2))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> tinyconv.save(model, path, metadata={"epoch": 3})
    >>> again = tinyconv.load(path)
    >>> x = tinyconv.tensor(numpy.ones((1, 4)))
    >>> bool((model(x).numpy() == again(x).numpy()).all()), read_metadata(path)
    (True, {'epoch': 3})
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy

from .backend import default_rng, to_device
from .errors import naming_file
from .nn.module import Module, build_module, size_limit
from .tensor import Tensor
from .version import __version__

PathLike = str | os.PathLike

FORMAT_VERSION = "1"
MAX_HEADER_BYTES = 100_000_000  # the official reader's limit too

# safetensors dtype code -> NumPy dtype name (BF16 needs the optional package ml_dtypes)
_CODES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
}
_NAMES = {v: k for k, v in _CODES.items()}


class ModelFileError(ValueError):
    """A model or weights file that is truncated, altered, or not a safetensors file at all."""


# ------------------------------------------------------------------- limits on what a file asks
MAX_HEADER_DEPTH = 8  # a safetensors header is {"__metadata__": {...}, name: {"shape": [...]}}
MAX_JSON_DEPTH = 200  # architecture and metadata (a module level takes two: "modules", name)
BUILD_SLACK_BYTES = 64 * 2**20  # non-persistent buffers, a float16 file built in float32 ...
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def json_depth(text: str | bytes) -> int:
    """How deeply ``text``'s JSON arrays and objects nest, found without parsing it.

    ``json.loads`` recurses once per level, so a hostile file nested 50,000 deep would raise
    RecursionError; this counts brackets outside strings in a few vectorised passes.

    Example:
        >>> json_depth('{"a": [1, {"b": "[[["}]}')
        3
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    codes = numpy.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=numpy.uint8)
    opens = (codes == ord("{")) | (codes == ord("["))
    closes = (codes == ord("}")) | (codes == ord("]"))
    steps = opens.astype(numpy.int64) - closes
    return int(numpy.cumsum(steps).max(initial=0))


def _loads_limited(text: str | bytes, limit: int, what: str, path: str) -> Any:
    depth = json_depth(text)
    if depth > limit:
        raise ModelFileError(
            f"{path}: {what} nests {depth} levels deep, more than the {limit} allowed "
            "(a damaged or hostile file)"
        )
    return json.loads(text)


def _int_arg(args: Mapping[str, Any], name: str) -> int | None:
    v = args.get(name)
    if isinstance(v, dict) and "__tuple__" in v:
        v = v["__tuple__"]
    if isinstance(v, list) and v and all(_is_int(d) for d in v):
        return math.prod(v)
    return v if _is_int(v) else None


def _declared_weights(config: Any) -> Iterable[tuple[str, int]]:
    """(layer, number of weights) for each Linear/Conv/BatchNorm-like node of an architecture.

    Read from the constructor arguments alone (``in_features``, ``out_features``,
    ``in_channels``, ``out_channels``, ``kernel_size``, ``groups``, ``num_features``), so a
    file can be refused before any of it is built.
    """
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        args = node.get("args")
        if not isinstance(node.get("class"), str) or not isinstance(args, dict):
            continue
        name = node["class"].rsplit(".", 1)[-1]
        fan_in, fan_out = _int_arg(args, "in_features"), _int_arg(args, "out_features")
        if fan_in is not None and fan_out is not None:
            yield f"{name}({fan_in}, {fan_out})", fan_in * fan_out + fan_out
            continue
        c_in, c_out = _int_arg(args, "in_channels"), _int_arg(args, "out_channels")
        k, groups = _int_arg(args, "kernel_size"), _int_arg(args, "groups") or 1
        if c_in is not None and c_out is not None and k is not None:
            yield f"{name}({c_in}, {c_out}, kernel_size={k})", c_in * c_out * k // max(groups, 1)
            continue
        features = _int_arg(args, "num_features")
        if features is not None:
            yield f"{name}({features})", 4 * features


def _bytes(n: int) -> str:
    """1536 -> "1.5 KiB"."""
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def _bfloat16() -> Any:
    """The bfloat16 NumPy dtype from ml_dtypes, or None when that optional package is missing."""
    try:
        import ml_dtypes  # noqa: PLC0415
    except ImportError:
        return None
    return numpy.dtype(ml_dtypes.bfloat16)


def _numpy_dtype(code: str, where: str) -> numpy.dtype:
    name = _CODES[code]
    if name != "bfloat16":
        return numpy.dtype(name).newbyteorder("<")
    bf16 = _bfloat16()
    if bf16 is None:
        raise ModelFileError(
            f"{where} is bfloat16 (BF16), which NumPy can only hold with the optional package "
            "ml_dtypes: pip install ml_dtypes (or tinyconv[fp16])"
        )
    return bf16


# ------------------------------------------------------------------------------------ writing
def _to_numpy(value: Any, name: str) -> numpy.ndarray:
    """A C-contiguous little-endian NumPy copy-or-view of a Tensor / NumPy / CuPy array."""
    arr = value.data if isinstance(value, Tensor) else value
    if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
        raise TypeError(
            f"cannot save {name!r}: expected a Tensor or an array, got {type(value).__name__}"
        )
    arr = numpy.asarray(to_device(arr, "cpu"), order="C")  # (ascontiguousarray makes 0-d 1-d)
    if arr.dtype.name not in _NAMES:
        raise TypeError(
            f"cannot save {name!r}: dtype {arr.dtype} has no safetensors code "
            f"(supported: {', '.join(sorted(_NAMES))})"
        )
    big = arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big")
    if big and arr.dtype.itemsize > 1:
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return arr


def _digest(layout: Mapping[str, Any], metadata: Mapping[str, str], chunks: Iterable[Any]) -> str:
    """SHA-256 of the canonical header (tensors + metadata, checksum excluded) and the bytes."""
    meta = {k: v for k, v in metadata.items() if k != "tinyconv.sha256"}
    canonical = json.dumps(
        {"metadata": meta, "tensors": layout}, sort_keys=True, separators=(",", ":")
    )
    h = hashlib.sha256(canonical.encode("utf-8"))
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def write_safetensors(
    path: PathLike, tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> None:
    """Write arrays to a safetensors file atomically, with a checksum in the metadata.

    Args:
        path: destination file (replaced if it exists).
        tensors: ``{name: Tensor or array}`` (CuPy arrays are copied to the CPU).
        metadata: ``{str: str}`` stored in the header's ``__metadata__``.

    Raises:
        TypeError: a value is not an array, has an unsupported dtype, or metadata is not str->str.
    """
    meta: dict[str, str] = {}
    for k, v in (metadata or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"safetensors metadata must map str to str, got {k!r}: {v!r}")
        meta[k] = v
    layout: dict[str, dict[str, Any]] = {}
    chunks: list[numpy.ndarray] = []
    offset = 0
    for name, value in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise TypeError(f"cannot save a tensor named {name!r}: names are non-empty strings")
        arr = _to_numpy(value, name)
        chunk = arr.reshape(-1).view(numpy.uint8)  # raw bytes, no copy
        layout[name] = {
            "dtype": _NAMES[arr.dtype.name],
            "shape": [int(d) for d in arr.shape],
            "data_offsets": [offset, offset + chunk.size],
        }
        chunks.append(chunk)
        offset += chunk.size
    meta["tinyconv.sha256"] = _digest(layout, meta, chunks)
    header = json.dumps({"__metadata__": meta, **layout}, separators=(",", ":")).encode("utf-8")
    header += b" " * (-len(header) % 8)  # pad so the data starts 8-byte aligned
    _atomic_write(path, [len(header).to_bytes(8, "little"), header, *chunks])


def _write_chunks(f: Any, chunks: Iterable[Any]) -> None:
    for chunk in chunks:
        f.write(chunk)


def _atomic_write(path: PathLike, chunks: list[Any]) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save {path!r}: the directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with naming_file(path), os.fdopen(fd, "wb") as f:  # a full disk names the file
            _write_chunks(f, chunks)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError, AttributeError):  # make the rename durable (POSIX)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _file_mode(path: str) -> int:
    """The mode an ordinary ``open(path, "wb")`` would give (mkstemp makes files 0600)."""
    with contextlib.suppress(OSError):
        return os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# ------------------------------------------------------------------------------------ reading
def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def read_safetensors(path: PathLike) -> tuple[OrderedDict[str, numpy.ndarray], dict[str, str]]:
    """Read and validate a safetensors file.

    Returns:
        ``(tensors, metadata)``: writable NumPy arrays in file order, and ``__metadata__``.

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: the file is truncated, altered, or not a valid safetensors file;
            the message names the file and the problem.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such model file", path)
    with open(path, "rb") as f:
        raw = f.read()

    def fail(what: str) -> ModelFileError:
        return ModelFileError(f"{path}: {what}")

    size = len(raw)
    if size < 8:
        raise fail(f"the file has {size} bytes, too few for a safetensors file (truncated?)")
    n = int.from_bytes(raw[:8], "little")
    if n > MAX_HEADER_BYTES or 8 + n > size:
        raise fail(
            f"the first 8 bytes give a header length of {n} bytes, but the file has only {size}: "
            "truncated, or not a safetensors file"
        )
    text = raw[8 : 8 + n]
    if not text.startswith(b"{"):
        raise fail("not a safetensors file: the header is not a JSON object")
    depth = json_depth(text)
    if depth > MAX_HEADER_DEPTH:
        raise fail(
            f"the header nests {depth} levels deep, more than the {MAX_HEADER_DEPTH} a "
            "safetensors header has (a damaged or hostile file)"
        )
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError) as e:
        raise fail(f"the header is not valid JSON ({e}): the file is damaged") from None
    if not isinstance(header, dict):
        raise fail("not a safetensors file: the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise fail("the header's __metadata__ must map strings to strings")
    data = memoryview(raw)[8 + n :]

    entries = []
    for name, info in header.items():
        where = f"tensor {name!r}"
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise fail(f"{where}: expected the keys dtype, shape and data_offsets, got {info!r}")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _CODES:
            raise fail(f"{where}: unknown dtype {code!r} (known: {', '.join(_CODES)})")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise fail(f"{where}: shape {shape!r} is not a list of non-negative integers")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise fail(f"{where}: data_offsets {offsets!r} are not [begin, end] with begin <= end")
        itemsize = 2 if code == "BF16" else numpy.dtype(_CODES[code]).itemsize
        nbytes = math.prod(shape) * itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise fail(
                f"{where}: shape {shape} of {code} needs {nbytes} bytes, but its data_offsets "
                f"{offsets} span {offsets[1] - offsets[0]}"
            )
        if offsets[1] > len(data):
            raise fail(
                f"{where}: its bytes end at {offsets[1]} but only {len(data)} bytes follow the "
                "header (the file is truncated)"
            )
        entries.append((offsets[0], offsets[1], name, code, shape))
    entries.sort()
    end = 0
    for begin, stop, name, _, _ in entries:
        if begin != end:
            kind = "overlap the previous tensor" if begin < end else "leave a gap"
            raise fail(
                f"tensor {name!r}: data_offsets start at {begin}, expected {end} (they {kind})"
            )
        end = stop
    if end != len(data):
        raise fail(f"{len(data) - end} stray bytes follow the last tensor (the file was altered)")

    tinyconv_file = "tinyconv.format" in metadata or "tinyconv.sha256" in metadata
    if tinyconv_file:
        stored = metadata.get("tinyconv.sha256")
        layout = {
            name: {"dtype": code, "shape": shape, "data_offsets": [begin, stop]}
            for begin, stop, name, code, shape in entries
        }
        if stored is None:
            raise fail("the tinyconv checksum (tinyconv.sha256) is missing: the header was edited")
        if _digest(layout, metadata, [data]) != stored:
            raise fail(
                "checksum mismatch (tinyconv.sha256): the file was altered or damaged after saving"
            )

    tensors: OrderedDict[str, numpy.ndarray] = OrderedDict()
    for begin, stop, name, code, shape in entries:
        dt = _numpy_dtype(code, f"{path}: tensor {name!r}")
        if begin == stop:
            arr = numpy.zeros(shape, dtype=dt)
        else:
            arr = numpy.frombuffer(data[begin:stop], dtype=dt).reshape(shape)
        tensors[name] = arr.astype(dt.newbyteorder("=") if dt.name != "bfloat16" else dt)
    return tensors, dict(metadata)


# ------------------------------------------------------------------------------- public API
def _state_arrays(state_dict: Mapping[str, Any]) -> OrderedDict[str, numpy.ndarray]:
    return OrderedDict((k, _to_numpy(v, k)) for k, v in state_dict.items())


def _dtype_summary(arrays: Mapping[str, numpy.ndarray]) -> str:
    floats = sorted(
        {a.dtype.name for a in arrays.values() if a.dtype.kind == "f" or a.dtype.name == "bfloat16"}
    )
    if not floats:
        return "none"
    return floats[0] if len(floats) == 1 else "mixed(" + ",".join(floats) + ")"


def _metadata(kind: str, arrays: Mapping[str, numpy.ndarray], user: Any) -> dict[str, str]:
    meta = {
        "tinyconv.format": FORMAT_VERSION,
        "tinyconv.version": __version__,
        "tinyconv.kind": kind,
        "tinyconv.dtype": _dtype_summary(arrays),
    }
    if user is not None:
        if not isinstance(user, Mapping) or not all(isinstance(k, str) for k in user):
            raise TypeError(f"metadata must be a dict with str keys, got {type(user).__name__}")
        try:
            meta["tinyconv.metadata"] = json.dumps(dict(user), allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"metadata must be JSON-serialisable: {e}") from None
    return meta


def save(
    obj: Module | Mapping[str, Any], path: PathLike, metadata: Mapping[str, Any] | None = None
) -> None:
    """Save a model (weights, buffers and architecture) or a state dict to one safetensors file.

    Every tensor keeps its dtype (a float16 model makes a file about half the size of the
    float32 one); CuPy arrays are copied to the CPU. The write is atomic.

    Args:
        obj: a ``Module``, saved with its ``config()`` so that ``load`` can rebuild it, or a
            state dict ``{name: Tensor or array}``.
        path: destination, conventionally ending in ``.safetensors``.
        metadata: optional JSON-able dict (epoch, accuracy, optimizer hyper-parameters...),
            read back by ``read_metadata``.

    Raises:
        TypeError: ``obj`` is neither, a module argument is not JSON-able, or a tensor has a
            dtype safetensors cannot store.
    """
    if isinstance(obj, Module):
        arrays = _state_arrays(obj.state_dict())
        meta = _metadata("module", arrays, metadata)
        meta["tinyconv.architecture"] = json.dumps(obj.config(), allow_nan=True)
    elif isinstance(obj, Mapping):
        arrays = _state_arrays(obj)
        meta = _metadata("state_dict", arrays, metadata)
    else:
        raise TypeError(
            "tinyconv.save expects a Module or a state dict {name: Tensor}, "
            f"got {type(obj).__name__}"
        )
    write_safetensors(path, arrays, meta)


def save_state_dict(
    state_dict: Mapping[str, Any], path: PathLike, metadata: Mapping[str, Any] | None = None
) -> None:
    """Save ``{name: Tensor or array}`` (no architecture) to a safetensors file."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            "save_state_dict expects a mapping of names to tensors, "
            f"got {type(state_dict).__name__}"
        )
    save(state_dict, path, metadata)


def load_state_dict(path: PathLike) -> OrderedDict[str, numpy.ndarray]:
    """The arrays of any safetensors file (a tinyconv model, a state dict, or a foreign file)."""
    return read_safetensors(path)[0]


def read_metadata(path: PathLike) -> dict[str, Any]:
    """The ``metadata`` dict given to ``save`` ({} when there was none); the file is verified."""
    _, meta = read_safetensors(path)
    text = meta.get("tinyconv.metadata")
    if text is None:
        return {}
    try:
        return _loads_limited(text, MAX_JSON_DEPTH, "tinyconv.metadata", os.fspath(path))
    except ModelFileError:
        raise
    except ValueError as e:
        raise ModelFileError(
            f"{os.fspath(path)}: tinyconv.metadata is not valid JSON ({e})"
        ) from None


def class_names(classes: Any, outputs: int, where: str) -> list[str]:
    """One name per model output: ``classes`` checked, or "0".."K-1" when it is None or empty.

    Every front-end that labels a model's outputs (``tinyconv predict``/``evaluate``, the
    playground) uses this, so a file whose metadata names the wrong number of classes is refused
    the same way everywhere instead of being relabelled in one place and trusted in another.

    Args:
        classes: the names (the metadata's ``"classes"``), or None.
        outputs: K, the model's output width.
        where: what holds the names, for the message: a file or "Playground".

    Raises:
        TypeError: ``classes`` is not a list of strings.
        ValueError: ``len(classes) != outputs``.

    Example:
        >>> class_names(None, 3, "m"), class_names(["cat", "dog"], 2, "m")
        (['0', '1', '2'], ['cat', 'dog'])
    """
    if classes is None or (isinstance(classes, (list, tuple)) and not classes):
        return [str(i) for i in range(outputs)]
    if not isinstance(classes, (list, tuple)) or not all(isinstance(c, str) for c in classes):
        raise TypeError(f"{where}: the class names must be a list of strings, got {classes!r:.80}")
    if len(classes) != outputs:
        shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
        raise ValueError(
            f"{where}: {len(classes)} class names ({shown}) but the model has {outputs} "
            "outputs (expected one name per output)"
        )
    return list(classes)


def load(
    path: PathLike,
    custom_objects: Mapping[str, type[Module]] | None = None,
    device: str = "cpu",
) -> Module | OrderedDict[str, Tensor]:
    """Load what ``save`` wrote: the rebuilt model, or the state dict as Tensors.

    A model is rebuilt from its architecture with ``tinyconv.nn.build_module`` (only tinyconv's
    classes, those registered with ``register_module`` and those in ``custom_objects``, never a
    class named by the file alone), then its weights and buffers are loaded with
    ``load_state_dict(strict=True)`` keeping the file's dtypes. Building does not disturb the
    global random generator. A file without an architecture gives an OrderedDict of Tensors.

    Args:
        path: a ``.safetensors`` file.
        custom_objects: ``{"ClassName": cls}`` for user-defined module classes.
        device: "cpu" or "cuda". Default: "cpu".

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: the file is damaged, or its architecture or weights cannot be rebuilt
            (for example an unknown class); the message names the file.
    """
    p = os.fspath(path)
    arrays, meta = read_safetensors(p)
    kind = meta.get("tinyconv.kind", "state_dict")
    if kind == "state_dict":
        return OrderedDict((k, Tensor(to_device(a, device))) for k, a in arrays.items())
    if kind != "module":
        raise ModelFileError(
            f"{p}: unknown tinyconv.kind {kind!r} (expected 'module' or 'state_dict')"
        )
    try:
        config = _loads_limited(
            meta["tinyconv.architecture"], MAX_JSON_DEPTH, "the architecture", p
        )
    except ModelFileError:
        raise
    except (KeyError, ValueError) as e:
        raise ModelFileError(
            f"{p}: the architecture (tinyconv.architecture) is missing or invalid: {e}"
        ) from None
    held = sum(int(a.nbytes) for a in arrays.values())
    budget = 4 * held + BUILD_SLACK_BYTES  # a float16 or int8 file may build in float32
    for layer, count in _declared_weights(config):
        if 4 * count > budget:
            raise ModelFileError(
                f"{p}: the architecture's {layer} needs {_bytes(4 * count)} of float32 "
                f"weights but the file holds {_bytes(held)} in all: refused before building it"
            )
    rng = default_rng()
    rng_state = rng.bit_generator.state
    try:
        with size_limit(budget, f", but the file holds {_bytes(held)}"):
            model = build_module(config, dict(custom_objects or {}))
    except (ValueError, TypeError, KeyError) as e:
        raise ModelFileError(f"{p}: cannot rebuild the model: {e}") from e
    except (MemoryError, RecursionError) as e:
        raise ModelFileError(
            f"{p}: cannot rebuild the model: its architecture asks for more than this "
            f"machine can build ({type(e).__name__})"
        ) from None
    finally:
        rng.bit_generator.state = rng_state
    try:
        model.load_state_dict(arrays, strict=True)
    except ValueError as e:
        raise ModelFileError(f"{p}: the weights do not fit the architecture: {e}") from e
    own = model.state_dict()
    for name, arr in arrays.items():  # keep the saved dtype (load_state_dict casts to the model's)
        own[name].data = arr
    if device != "cpu":
        model.to(device)
    return model
