"""Read the tensors of a PyTorch ``.pth`` file without unpickling it (and without torch).

``torch.save`` writes a zip archive: ``<name>/data.pkl`` is a pickle of the state dict in
which every tensor is a call ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, ...)`` and every storage a persistent id ``("storage", torch.FloatStorage, key,
location, numel)`` whose bytes are the archive member ``<name>/data/<key>``.

Unpickling that file would run whatever callables it names. Here the pickle is only read:
``pickletools.genops`` lists its opcodes, and a small stack machine replays the few that
build containers, numbers and strings. The only callables it honours are the handful a
state dict uses (``collections.OrderedDict``, the tensor and parameter rebuilders, the
storage types), each replaced by our own code; any other global (``os.system``,
``builtins.eval``...) makes ``PthError`` naming it, and nothing from the file ever runs.

    state = read_pth("resnet18-f37072fd.pth")      # {"conv1.weight": float32 (64, 3, 7, 7), ...}
    convert_pth("resnet18-f37072fd.pth", "resnet18.safetensors")   # what `tinyconv convert` does
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import numpy

MAX_PICKLE_BYTES = 64 * 2**20  # a state dict's data.pkl is kilobytes; its tensors live beside it

# torch's storage classes -> NumPy dtype (BFloat16 is read as its 16 bits, then widened)
STORAGE_DTYPES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
}


class PthError(ValueError):
    """A ``.pth`` file that is damaged, not a torch zip archive, or asks for code to run."""


class _Global:
    """A global named by the pickle (``GLOBAL module name``), never imported."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


class _Storage:
    """A persistent id: which archive member holds a storage, its dtype and element count."""

    def __init__(self, key: str, dtype: str, numel: int) -> None:
        self.key, self.dtype, self.numel = key, dtype, numel


class _Mark:
    pass


MARK = _Mark()


def read_pth(path: str | os.PathLike[str]) -> Any:
    """The object ``torch.save`` wrote to ``path``, with every tensor as a NumPy array.

    Containers come back as dicts, lists and tuples; tensors as C-contiguous arrays of their
    dtype (bfloat16 widened to float32).

    Raises:
        FileNotFoundError: no such file.
        PthError: not a zip archive from ``torch.save`` (the pre-1.6 format included), a
            damaged archive, or a pickle that names anything but a state dict's callables.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such .pth file", path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise PthError(
            f"{path}: not a zip archive from torch.save (a file from PyTorch before 1.6, or not "
            "a .pth file): re-save it with a recent torch.save, or convert it there with "
            "torch.load with weights_only=True and safetensors"
        ) from None
    with archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise PthError(f"{path}: no <name>/data.pkl in the archive: not a torch.save file")
        root = pkl[0][: -len("data.pkl")]
        info = archive.getinfo(pkl[0])
        if info.file_size > MAX_PICKLE_BYTES:
            raise PthError(f"{path}: data.pkl is {info.file_size} bytes, more than a state dict")
        order = "little"
        if root + "byteorder" in names:
            order = archive.read(root + "byteorder").decode("ascii", "replace").strip()
        if order not in ("little", "big"):
            raise PthError(f"{path}: unknown byteorder {order!r}")

        def storage_bytes(key: str) -> bytes:
            member = f"{root}data/{key}"
            if member not in names:
                raise PthError(f"{path}: the archive lacks {member} (truncated or altered)")
            return archive.read(member)

        try:
            return _Replay(archive.read(pkl[0]), storage_bytes, order, path).run()
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise PthError(f"{path}: the archive is damaged ({e})") from None


class _Replay:
    """The opcodes of one pickle, replayed on a stack of plain values (see the module doc)."""

    def __init__(
        self, data: bytes, storage_bytes: Callable[[str], bytes], order: str, path: str
    ) -> None:
        self.data, self.storage_bytes, self.order, self.path = data, storage_bytes, order, path
        self.stack: list[Any] = []
        self.memo: dict[int, Any] = {}
        self.storages: dict[str, numpy.ndarray] = {}

    def fail(self, what: str) -> PthError:
        return PthError(f"{self.path}: data.pkl {what}")

    def pop_mark(self) -> list[Any]:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is MARK:
                items = self.stack[i + 1 :]
                del self.stack[i:]
                return items
        raise self.fail("has no MARK where one is needed (damaged)")

    def pop(self) -> Any:
        if not self.stack or self.stack[-1] is MARK:
            raise self.fail("pops an empty stack (damaged)")
        return self.stack.pop()

    def run(self) -> Any:
        from pickletools import genops  # noqa: PLC0415  (an opcode parser; unpickles nothing)

        try:
            ops = list(genops(self.data))
        except ValueError as e:
            raise self.fail(f"is not a valid pickle ({e})") from None
        for op, arg, pos in ops:
            name = op.name
            if name == "STOP":
                return self.pop()
            try:
                self.step(name, arg)
            except PthError:
                raise
            except (IndexError, KeyError, TypeError, ValueError, AttributeError) as e:
                raise self.fail(f"is damaged at byte {pos} ({name}: {e})") from None
        raise self.fail("ends without STOP (truncated)")

    def step(self, name: str, arg: Any) -> None:
        s = self.stack
        if name in ("PROTO", "FRAME"):
            return
        if name in _LITERALS:
            s.append(arg)
        elif name == "NONE":
            s.append(None)
        elif name in ("NEWTRUE", "NEWFALSE"):
            s.append(name == "NEWTRUE")
        elif name == "MARK":
            s.append(MARK)
        elif name == "EMPTY_DICT":
            s.append({})
        elif name == "EMPTY_LIST":
            s.append([])
        elif name == "EMPTY_TUPLE":
            s.append(())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = [self.pop() for _ in range(n)][::-1]
            s.append(tuple(items))
        elif name == "TUPLE":
            s.append(tuple(self.pop_mark()))
        elif name == "LIST":
            s.append(self.pop_mark())
        elif name == "DICT":
            items = self.pop_mark()
            s.append(dict(zip(items[::2], items[1::2], strict=True)))
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            self.memo[int(arg)] = s[-1]
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = s[-1]
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            s.append(self.memo[int(arg)])
        elif name == "POP":
            self.pop()
        elif name == "POP_MARK":
            self.pop_mark()
        elif name == "DUP":
            s.append(s[-1])
        elif name == "APPEND":
            value = self.pop()
            s[-1].append(value)
        elif name == "APPENDS":
            items = self.pop_mark()
            s[-1].extend(items)
        elif name == "SETITEM":
            value, key = self.pop(), self.pop()
            s[-1][key] = value
        elif name == "SETITEMS":
            items = self.pop_mark()
            target = s[-1]
            for k, v in zip(items[::2], items[1::2], strict=True):
                target[k] = v
        elif name == "GLOBAL":
            module, _, attr = str(arg).partition(" ")
            s.append(self.lookup(module, attr))
        elif name == "STACK_GLOBAL":
            attr, module = self.pop(), self.pop()
            s.append(self.lookup(str(module), str(attr)))
        elif name == "BINPERSID":
            s.append(self.persistent(self.pop()))
        elif name == "REDUCE":
            args, func = self.pop(), self.pop()
            s.append(self.call(func, args))
        elif name == "BUILD":
            state = self.pop()
            if not isinstance(s[-1], (dict, numpy.ndarray)) or not isinstance(state, dict | None):
                raise self.fail(f"sets state on a {type(s[-1]).__name__}: not a state dict")
            # an OrderedDict's attributes (a state dict's _metadata): not needed
        else:
            raise self.fail(f"uses the pickle opcode {name}, which a state dict never needs")

    def lookup(self, module: str, attr: str) -> _Global:
        dotted = f"{module}.{attr}"
        if dotted in _CALLS or (module == "torch" and attr in STORAGE_DTYPES):
            return _Global(module, attr)
        raise self.fail(
            f"asks for {dotted}, which a state dict never needs: refused "
            "(the file was not unpickled; nothing in it ran)"
        )

    def persistent(self, pid: Any) -> _Storage:
        if (
            not isinstance(pid, tuple)
            or len(pid) < 5
            or pid[0] != "storage"
            or not isinstance(pid[1], _Global)
            or pid[1].name not in STORAGE_DTYPES
        ):
            raise self.fail(f"has a persistent id {pid!r} that is not a tensor storage")
        _, kind, key, _location, numel = pid[:5]
        if not isinstance(numel, int) or numel < 0:
            raise self.fail(f"gives storage {key!r} a size of {numel!r}")
        return _Storage(str(key), STORAGE_DTYPES[kind.name], numel)

    def call(self, func: Any, args: Any) -> Any:
        if not isinstance(func, _Global) or not isinstance(args, tuple):
            raise self.fail(f"calls {func!r}, which is not a state dict's callable")
        if func.name in STORAGE_DTYPES:
            raise self.fail(f"calls the storage type {func.dotted} directly")
        return _CALLS[func.dotted](self, *args)

    def storage(self, st: _Storage) -> numpy.ndarray:
        if st.key not in self.storages:
            dtype = numpy.dtype("uint16" if st.dtype == "bfloat16" else st.dtype)
            dtype = dtype.newbyteorder("<" if self.order == "little" else ">")
            raw = self.storage_bytes(st.key)
            if len(raw) != st.numel * dtype.itemsize:
                raise self.fail(
                    f"says storage {st.key} holds {st.numel} {st.dtype} values "
                    f"({st.numel * dtype.itemsize} bytes) but the archive has {len(raw)} bytes"
                )
            arr = numpy.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
            if st.dtype == "bfloat16":  # the top half of a float32
                arr = (arr.astype(numpy.uint32) << 16).view(numpy.float32)
            self.storages[st.key] = arr
        return self.storages[st.key]

    def rebuild_tensor(
        self, st: Any, offset: Any, size: Any, stride: Any, *_rest: Any
    ) -> numpy.ndarray:
        if not isinstance(st, _Storage):
            raise self.fail("rebuilds a tensor from something that is not a storage")
        if not (
            isinstance(offset, int)
            and isinstance(size, tuple)
            and isinstance(stride, tuple)
            and len(size) == len(stride)
            and all(isinstance(d, int) and d >= 0 for d in size)
            and all(isinstance(d, int) and d >= 0 for d in stride)
            and offset >= 0
        ):
            raise self.fail(f"has a tensor of size {size!r}, stride {stride!r}, offset {offset!r}")
        flat = self.storage(st)
        if math.prod(size) == 0:
            return numpy.zeros(size, dtype=flat.dtype)
        last = offset + sum((d - 1) * s for d, s in zip(size, stride, strict=True))
        if last >= len(flat):
            raise self.fail(
                f"has a tensor {size} reaching element {last} of storage {st.key}, "
                f"which holds {len(flat)}"
            )
        item = flat.itemsize
        view = numpy.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=[s * item for s in stride], writeable=False
        )
        return view.copy(order="C")


def _ordered_dict(replay: _Replay, *items: Any) -> dict[str, Any]:
    return dict(*items)


def _parameter(replay: _Replay, data: Any, *_rest: Any) -> Any:
    return data


_CALLS: Mapping[str, Callable[..., Any]] = {
    "collections.OrderedDict": _ordered_dict,
    "torch._utils._rebuild_tensor_v2": _Replay.rebuild_tensor,
    "torch._utils._rebuild_parameter": _parameter,
    "torch._utils._rebuild_parameter_with_state": _parameter,
}

_LITERALS = {
    "BININT",
    "BININT1",
    "BININT2",
    "INT",
    "LONG",
    "LONG1",
    "LONG4",
    "BINFLOAT",
    "FLOAT",
    "BINUNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE8",
    "UNICODE",
    "BINSTRING",
    "SHORT_BINSTRING",
    "BINBYTES",
    "SHORT_BINBYTES",
    "BINBYTES8",
}


def state_dict_of(obj: Any, key: str | None = None, where: str = "") -> dict[str, numpy.ndarray]:
    """The name -> array mapping inside what ``read_pth`` gave (a state dict, or a checkpoint
    holding one under ``key``, dotted for nesting: "model.state_dict").

    Raises:
        PthError: no such entry, or no arrays there (the message suggests a ``key``).
    """
    if key:
        for part in key.split("."):
            if not isinstance(obj, dict) or part not in obj:
                raise PthError(f"{where}the checkpoint has no entry {key!r}")
            obj = obj[part]
    if not isinstance(obj, dict):
        raise PthError(
            f"{where}expected a state dict (names -> tensors), found {type(obj).__name__}"
        )
    arrays = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, numpy.ndarray)}
    if not arrays:
        inner = [k for k, v in obj.items() if isinstance(v, dict)]
        hint = f"; try --key {inner[0]}" if inner else ""
        raise PthError(f"{where}no tensors at the top level of the file{hint}")
    return arrays


def convert_pth(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    key: str | None = None,
    strip_prefix: str = "",
) -> list[str]:
    """Write the state dict inside the ``.pth`` file ``src`` to the safetensors file ``dst``.

    Args:
        src: a file from ``torch.save`` (a state dict, or a checkpoint holding one).
        dst: the ``.safetensors`` file to write (atomically; replaced if it exists).
        key: the checkpoint entry holding the state dict ("state_dict", "model.ema"...).
        strip_prefix: removed from every name that starts with it (e.g. "module.").

    Returns:
        the non-tensor entries skipped at that level (an epoch counter, say).

    Raises:
        FileNotFoundError, PthError: as ``read_pth``; PthError also when ``key`` is wrong.
    """
    from .. import io  # noqa: PLC0415

    src = os.fspath(src)
    obj = read_pth(src)
    state = state_dict_of(obj, key, where=f"{src}: ")
    holder = obj
    for part in (key or "").split(".") if key else []:
        holder = holder[part]
    skipped = sorted(str(k) for k in holder if k not in state)
    if strip_prefix:
        state = {k.removeprefix(strip_prefix): v for k, v in state.items()}
    io.write_safetensors(dst, state, {"format": "pt", "source": os.path.basename(src)})
    return skipped


# ------------------------------------------------------------------ tinyconv convert
def add_convert_parser(sub: Any) -> None:
    """The ``tinyconv convert`` subcommand (``sub`` is the CLI's subparsers object)."""
    c = sub.add_parser(
        "convert",
        help="turn a PyTorch .pth state dict into a .safetensors file (never unpickles)",
        description="Read a .pth/.pt file written by torch.save without unpickling it (and "
        "without torch) and write its tensors to a .safetensors file, which "
        "tinyconv.models.load_torch_state_dict loads into a model of the same architecture.",
    )
    c.add_argument("src", metavar="SRC", help="the .pth / .pt file (a state dict or checkpoint)")
    c.add_argument("dst", metavar="DST", nargs="?", help="output (default: SRC as .safetensors)")
    c.add_argument("--key", help="checkpoint entry holding the state dict, e.g. state_dict")
    c.add_argument("--strip-prefix", default="", help='remove this prefix, e.g. "module."')
    c.set_defaults(func=cmd_convert)


def cmd_convert(args: Any) -> int:
    src = os.fspath(args.src)
    dst = args.dst or os.path.splitext(src)[0] + ".safetensors"
    skipped = convert_pth(src, dst, args.key, args.strip_prefix)
    if skipped:
        print(f"skipped the non-tensor entries: {', '.join(skipped)}")
    print(f"wrote {dst}")
    return 0
