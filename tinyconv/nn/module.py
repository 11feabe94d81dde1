"""Module, Parameter and the containers Sequential and ModuleList.

As in PyTorch, a ``Module`` registers what is assigned to it: a ``Parameter`` becomes a
parameter, a ``Module`` a child, and ``register_buffer`` keeps non-learned state (BatchNorm's
running statistics). Names are dotted paths (``features.0.weight``), so state dicts line up
with PyTorch's.

Every module also remembers the arguments it was constructed with. ``config()`` turns them
into JSON-able data (children included), which ``tinyconv.save`` stores beside the weights so
that ``tinyconv.load`` can rebuild the model without running any code from the file: the
class is looked up in a registry of known module classes, never imported by name.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy

from .. import kernels
from ..backend import get_array_module, resolve_dtype, to_device
from ..dtypes import is_floating
from ..tensor import Tensor, no_grad
from .summary import summary as summarize

# Runs of layers that Sequential may compute as one fused operation when the compiled
# kernels are enabled (``nn/fusion.py`` registers them): the type of a run's first layer ->
# fn(layers, i, x) giving (output, index after the run), or None when layers[i:] does not
# fuse (a forward hook on one of them, hyper-parameters the fused op does not cover, ...).
SEQUENTIAL_FUSIONS: dict[type, Callable[[list[Any], int, Any], tuple[Any, int] | None]] = {}

# Every Module subclass defined inside the tinyconv package registers here; user classes
# join with ``register_module`` (or ``custom_objects`` when loading).
MODULE_REGISTRY: dict[str, type[Module]] = {}


def register_module(cls: type[Module]) -> type[Module]:
    """Class decorator: allow ``tinyconv.load`` to rebuild this user-defined module class."""
    MODULE_REGISTRY[_class_key(cls)] = cls
    return cls


def _class_key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# Bytes that parameters and buffers made from now on may still take (None: no limit); see
# ``size_limit``. A list so that nested modules draw on one budget.
_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "tinyconv_size_limit", default=None
)


@contextlib.contextmanager
def size_limit(nbytes: int, why: str = "") -> Iterator[None]:
    """Inside the block, parameters and buffers together may take at most ``nbytes``.

    ``tinyconv.load`` builds a file's architecture inside it, so an architecture that asks
    for far more weights than its file holds fails at once with a ValueError, before the
    weights are initialised (touched). ``why`` ends the message ("the file holds 1.2 kB").
    """
    token = _budget.set([int(nbytes), int(nbytes), why])  # type: ignore[list-item]
    try:
        yield
    finally:
        _budget.reset(token)


def _charge(arr: Any) -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget[0] -= int(arr.nbytes)
    if budget[0] < 0:
        raise ValueError(
            f"the architecture asks for more than {budget[1]} bytes of parameters and buffers "
            f"(one of shape {tuple(arr.shape)} alone takes {arr.nbytes} bytes){budget[2]}"
        )


class Parameter(Tensor):
    """A Tensor that a Module treats as learnable (``requires_grad=True`` by default)."""

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(
            data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad
        )
        _charge(self.data)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: dict[int, Callable[..., Any]], key: int) -> None:
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters and sub-modules as
    attributes, and define ``forward``. Calling the module runs ``forward`` and then any
    forward hooks (used by ``summary`` and the visualisations to see feature maps).
    """

    training: bool

    def __new__(cls, *args: Any, **kwargs: Any) -> Module:
        obj = super().__new__(cls)
        object.__setattr__(obj, "_init_args", (args, kwargs))
        return obj

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("tinyconv."):
            MODULE_REGISTRY[_class_key(cls)] = cls

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called in "
                f"{type(self).__name__}.__init__"
            )
        for table in ("_parameters", "_modules", "_buffers"):
            if name in self.__dict__[table] and not (table == "_buffers" and _is_buffer(value)):
                del self.__dict__[table][name]
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self._buffers or (name in self._non_persistent and _is_buffer(value)):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for table in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[table]:
                del self.__dict__[table][name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Keep a non-learned tensor (saved in ``state_dict`` unless ``persistent=False``)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        if tensor is not None:
            _charge(tensor.data)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    # ----------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    def register_forward_hook(self, hook: Callable[[Module, tuple, Any], Any]) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; it may return a new output."""
        key = id(hook) ^ len(self._forward_hooks) << 48
        self._forward_hooks[key] = hook
        return RemovableHandle(self._forward_hooks, key)

    # ------------------------------------------------------------------ walking
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first, with dotted names."""
        stack: list[tuple[str, Module]] = [(prefix, self)]
        seen: set[int] = set()
        while stack:
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            children = [
                (f"{name}.{n}" if name else n, m) for n, m in mod._modules.items() if m is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for n, m in self._modules.items():
            if m is not None:
                yield n, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, mod in mods:
            for pname, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", persistent_only: bool = False
    ) -> Iterator[tuple[str, Tensor]]:
        for mname, mod in self.named_modules(prefix):
            for bname, b in mod._buffers.items():
                if b is None or (persistent_only and bname in mod._non_persistent):
                    continue
                yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every descendant, then on this module (as PyTorch does)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # --------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, flag: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad = flag
        return self

    # ------------------------------------------------------------- state dict
    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name (tensors share the module's memory)."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        for mname, mod in self.named_modules():
            for pname, p in mod._parameters.items():
                if p is not None:
                    out[f"{mname}.{pname}" if mname else pname] = p
            for bname, b in mod._buffers.items():
                if b is not None and bname not in mod._non_persistent:
                    out[f"{mname}.{bname}" if mname else bname] = b
        return out

    def load_state_dict(
        self, state_dict: dict[str, Any], strict: bool = True
    ) -> tuple[list[str], list[str]]:
        """Copy values into this module's parameters and buffers.

        Values may be Tensors or arrays. Shapes must match exactly. With ``strict=True`` a
        missing or unexpected key is an error; otherwise the lists of both are returned.

        Raises:
            TypeError: ``state_dict`` is not a mapping of names to Tensors or arrays.
            ValueError: listing every missing, unexpected and size-mismatched key at once.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"{type(self).__name__}.load_state_dict: expected a dict of names to Tensors or "
                f"arrays (from state_dict() or tinyconv.load), got {type(state_dict).__name__}"
            )
        for k, v in state_dict.items():
            if not isinstance(k, str) or not hasattr(
                v.data if isinstance(v, Tensor) else v, "shape"
            ):
                raise TypeError(
                    f"{type(self).__name__}.load_state_dict: expected names mapped to Tensors or "
                    f"arrays, got {k!r}: {type(v).__name__}"
                )
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, v in state_dict.items():
            if k not in own:
                continue
            arr = v.data if isinstance(v, Tensor) else v
            if tuple(arr.shape) != own[k].shape:
                errors.append(
                    f"size mismatch for {k}: copying a param with shape {tuple(arr.shape)} from "
                    f"checkpoint, the shape in current model is {own[k].shape}."
                )
        if strict:
            if missing:
                errors.insert(
                    0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + "."
                )
            if unexpected:
                errors.insert(
                    0,
                    "Unexpected key(s) in state_dict: "
                    + ", ".join(f'"{k}"' for k in unexpected)
                    + ".",
                )
        if errors:
            raise ValueError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        for k, v in state_dict.items():
            if k in own:
                dst = own[k]
                arr = v.data if isinstance(v, Tensor) else v
                xp = get_array_module(dst.data)
                dst.data = xp.asarray(to_device(arr, dst.device)).astype(dst.dtype, copy=True)
        return missing, unexpected

    # --------------------------------------------------------- device & dtype
    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move or cast parameters and float buffers: ``model.to("cuda")``, ``.to(float16)``."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        for a in args:
            if isinstance(a, str) and (a == "cpu" or a.startswith("cuda")):
                device = a
            else:
                dtype = a
        dt = resolve_dtype(dtype) if dtype is not None else None
        for t in list(self.parameters()) + list(self.buffers()):
            data = t.data
            if dt is not None and is_floating(data.dtype):  # bfloat16's NumPy kind is "V"
                data = data.astype(dt)
            if device is not None:
                data = to_device(data, device)
            t.data = data
            if t.grad is not None:
                t.grad = None
        return self

    def half(self) -> Module:
        return self.to(numpy.float16)

    def float(self) -> Module:
        return self.to(numpy.float32)

    def double(self) -> Module:
        return self.to(numpy.float64)

    def cuda(self) -> Module:
        return self.to("cuda")

    def cpu(self) -> Module:
        return self.to("cpu")

    # --------------------------------------------------------------- display
    def extra_repr(self) -> str:
        """The hyper-parameters shown inside the module's repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, mod in self._modules.items():
            sub = repr(mod).replace("\n", "\n  ")
            lines.append(f"({name}): {sub}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def summary(self, input_shape: Iterable[int], **kwargs: Any) -> Any:
        """A Keras-like table of layers, output shapes and parameters (``tinyconv.nn.summary``)."""
        return summarize(self, tuple(input_shape), **kwargs)

    # ------------------------------------------------------------ architecture
    def config(self) -> dict[str, Any]:
        """JSON-able description: class, constructor arguments and children (recursively)."""
        args, kwargs = self.__dict__.get("_init_args", ((), {}))
        try:
            bound = inspect.signature(type(self).__init__).bind(self, *args, **kwargs)
        except TypeError:
            bound = None
        encoded: dict[str, Any] = {}
        if bound is not None:
            params = inspect.signature(type(self).__init__).parameters
            for name, value in list(bound.arguments.items())[1:]:
                kind = params[name].kind
                key = f"*{name}" if kind == inspect.Parameter.VAR_POSITIONAL else name
                if kind == inspect.Parameter.VAR_KEYWORD:
                    for k, v in value.items():
                        encoded[k] = _encode(v, f"{type(self).__name__}.{k}")
                else:
                    encoded[key] = _encode(value, f"{type(self).__name__}.{name}")
        return {
            "class": _class_key(type(self)),
            "args": encoded,
            "modules": {n: m.config() for n, m in self._modules.items() if m is not None},
            "training": self.training,
        }


def _is_buffer(value: Any) -> bool:
    return value is None or isinstance(value, Tensor)


def _encode(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Module):
        return {"__module__": value.config()}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v, where) for k, v in value.items()}}
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return value.item()
    if isinstance(value, (type, numpy.dtype)):
        try:
            return {"__dtype__": str(resolve_dtype(value))}
        except TypeError:
            pass
    raise TypeError(
        f"cannot save the architecture: argument {where} = {value!r} ({type(value).__name__}) "
        "is not JSON-serialisable; save the state_dict instead "
        "(tinyconv.save(model.state_dict(), path))"
    )


def _decode(value: Any, custom: dict[str, type[Module]]) -> Any:
    if isinstance(value, list):
        return [_decode(v, custom) for v in value]
    if isinstance(value, dict):
        if "__module__" in value:
            return build_module(value["__module__"], custom)
        if "__tuple__" in value:
            return tuple(_decode(v, custom) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: _decode(v, custom) for k, v in value["__dict__"].items()}
        if "__dtype__" in value:
            return resolve_dtype(value["__dtype__"])
    return value


def _lookup(key: str, custom: dict[str, type[Module]]) -> type[Module]:
    for table in (custom, MODULE_REGISTRY):
        if key in table:
            return table[key]
    short = key.rsplit(".", 1)[-1]
    if short in custom:
        return custom[short]
    raise ValueError(
        f"unknown module class {key!r} in the model file: tinyconv only rebuilds its own "
        "classes and those registered with tinyconv.nn.register_module "
        "(or passed as custom_objects={'Name': cls})"
    )


def build_module(
    cfg: dict[str, Any], custom_objects: dict[str, type[Module]] | None = None
) -> Module:
    """Rebuild a module from ``config()`` output, children included, without reading weights."""
    custom = dict(custom_objects or {})
    cls = _lookup(cfg["class"], custom)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for k, v in cfg.get("args", {}).items():
        if k.startswith("*"):
            args.extend(_decode(v, custom))
        else:
            kwargs[k] = _decode(v, custom)
    params = inspect.signature(cls.__init__).parameters
    positional = [k for k, p in params.items() if p.kind == inspect.Parameter.POSITIONAL_ONLY]
    pos_args = [kwargs.pop(k) for k in positional if k in kwargs]
    with no_grad():
        module = cls(*pos_args, *args, **kwargs)
    _sync_children(module, cfg, custom)
    module.train(cfg.get("training", True))
    return module


def _sync_children(module: Module, cfg: dict[str, Any], custom: dict[str, type[Module]]) -> None:
    """Make the children match the saved ones (a child replaced after construction included)."""
    saved = cfg.get("modules", {})
    for name in list(module._modules):
        if name not in saved:
            del module._modules[name]
    for name, child_cfg in saved.items():
        cur = module._modules.get(name)
        if (
            cur is not None
            and _class_key(type(cur)) == child_cfg["class"]
            and cur.config()["args"] == child_cfg["args"]
        ):
            _sync_children(cur, child_cfg, custom)
        else:
            module._modules[name] = build_module(child_cfg, custom)


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(Conv2d(1, 8, 3), ReLU())``.

    Children are named "0", "1", ... (as in PyTorch), or by the keys of one OrderedDict.
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(
                        f"Sequential: argument {i} is a {type(m).__name__}, not a Module"
                    )
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        if SEQUENTIAL_FUSIONS and kernels.enabled():
            return self._forward_fused(x)
        for m in self._modules.values():
            x = m(x)
        return x

    def _forward_fused(self, x: Any) -> Any:
        """As ``forward``, but a run of layers listed in ``SEQUENTIAL_FUSIONS`` runs as one
        fused operation (the same values; each layer stays in the model, and a layer with a
        forward hook is never fused, so summaries and feature maps still see every layer)."""
        mods = list(self._modules.values())
        i = 0
        while i < len(mods):
            fuse = SEQUENTIAL_FUSIONS.get(type(mods[i]))
            done = fuse(mods, i, x) if fuse is not None else None
            if done is None:
                x, i = mods[i](x), i + 1
            else:
                x, i = done
        return x

    def __getitem__(self, idx: int | slice) -> Any:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(*mods[idx])
        return mods[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self

    def config(self) -> dict[str, Any]:
        # Children carry the architecture; the constructor arguments would repeat them.
        cfg = super().config()
        cfg["args"] = {}
        return cfg


class ModuleList(Module):
    """A list of modules registered as children "0", "1", ...; it has no forward of its own."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        for m in modules or []:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, idx: int) -> Module:
        return list(self._modules.values())[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        cfg["args"] = {}
        return cfg
