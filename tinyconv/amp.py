"""Mixed precision: ``autocast`` runs the heavy operations in 16 bits, ``GradScaler`` keeps
float16 gradients from underflowing.

Mixed-precision training (Micikevicius et al., "Mixed Precision Training", ICLR 2018) keeps
float32 *master* weights and optimizer state, and runs the forward and backward passes in
16 bits::

    scaler = GradScaler()                       # float16 only; bfloat16 needs no scaling
    for x, y in batches:
        with autocast("float16"):               # conv/linear/matmul in float16,
            loss = F.cross_entropy(model(x), y) # softmax and the loss in float32
        optimizer.zero_grad()
        scaler.scale(loss).backward()           # d(loss * S)/dw: small gradients stay > 6e-8
        scaler.step(optimizer)                  # w.grad / S, then a step unless inf/NaN
        scaler.update()                         # S halves after an overflow, doubles after
                                                # growth_interval clean steps

``fit(..., precision="fp16-mixed" | "bf16-mixed")`` does exactly this.

**autocast.** Inside ``with autocast(dtype)`` every operation whose ``Function`` class sets
``autocast_policy`` has its floating-point tensor inputs cast on the way in, through the
differentiable ``Cast`` operation, so the gradient flows back to each input in that
input's own dtype (float32 for the master weights). The policy names (``LOW``, ``FP32``) and
the active dtype live in ``tinyconv.cast_policy``, below the tensor and the operations that
read them; ``autocast`` only sets that dtype:

* ``"16-bit"`` (convolutions, linear layers, matrix products): the inputs become the
  autocast dtype. These products run as float32 arithmetic on 16-bit inputs and round the
  result to 16 bits (``tinyconv.dtypes.matmul32``), like a GPU's 16-bit GEMM with a
  float32 accumulator.
* ``"float32"`` (softmax, log_softmax, the losses, batch normalisation): 16-bit inputs
  become float32; exponentials, logarithms and batch statistics need the range and the
  digits.
* every other operation (ReLU, pooling, additions, reshapes) keeps its inputs' dtype, so
  the activations between layers stay 16-bit: half the memory.

**GradScaler** has the semantics of ``torch.amp.GradScaler``: the scale S starts at 2^16;
an inf or NaN in any gradient skips that optimizer step entirely and multiplies S by
``backoff_factor`` (0.5); ``growth_interval`` (2000) steps in a row without one multiply it
by ``growth_factor`` (2). S is a float32 number and the unscaling multiplies by
float32(1 / S), as PyTorch does, so the two agree bit for bit.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterable, Iterator
from typing import Any

import numpy

from . import cast_policy
from .backend import get_array_module, resolve_dtype
from .cast_policy import FP32, LOW, is_autocast_enabled
from .dtypes import is_low_precision
from .tensor import Tensor
from .tensor import autocast_inputs as cast_inputs

__all__ = [
    "FP32",
    "INFERENCE_PRECISIONS",
    "LOW",
    "PRECISIONS",
    "GradScaler",
    "autocast",
    "cast_inputs",
    "get_autocast_dtype",
    "inference_dtype",
    "is_autocast_enabled",
    "training_precision",
]


def _sixteen_bit(dtype: Any, where: str) -> numpy.dtype:
    names = {"fp16": "float16", "half": "float16", "bf16": "bfloat16"}
    dt = resolve_dtype(names.get(dtype, dtype) if isinstance(dtype, str) else dtype)
    if not is_low_precision(dt):
        raise ValueError(f"{where}: expected a 16-bit dtype (float16 or bfloat16), got {dt}")
    return dt


@contextlib.contextmanager
def autocast(dtype: Any = "float16", enabled: bool = True) -> Iterator[None]:
    """Run conv/linear/matmul in ``dtype`` and softmax/losses/batch norm in float32 inside.

    Args:
        dtype: "float16" (or "fp16", numpy.float16) or "bfloat16" ("bf16"). Default: "float16".
        enabled (bool): False makes the block run as usual (and turns off an outer autocast).

    Raises:
        ValueError: dtype is not a 16-bit floating-point type.
        ImportError: bfloat16 without the ml_dtypes package (``pip install tinyconv[fp16]``).

    Example:
        >>> import numpy, tinyconv
        >>> layer = tinyconv.nn.Linear(3, 2)
        >>> x = tinyconv.tensor(numpy.ones((4, 3), dtype=numpy.float32))
        >>> with autocast("float16"):
        ...     y = layer(x)
        >>> y.dtype, layer.weight.dtype
        (dtype('float16'), dtype('float32'))
    """
    dt = _sixteen_bit(dtype, "autocast") if enabled else None
    prev = cast_policy.set_active_dtype(dt)
    try:
        yield
    finally:
        cast_policy.set_active_dtype(prev)


def get_autocast_dtype() -> numpy.dtype | None:
    """The dtype of the active ``autocast`` block, or None outside one."""
    return cast_policy.active_dtype()


# --------------------------------------------------------------------- precision names
PRECISIONS = ("fp32", "fp16-mixed", "bf16-mixed")
INFERENCE_PRECISIONS = ("fp32", "fp16", "bf16")


def training_precision(precision: str) -> tuple[numpy.dtype | None, GradScaler | None]:
    """``fit``'s ``precision``: (the autocast dtype or None, a fresh GradScaler or None).

    "fp32" trains in float32; "fp16-mixed" autocasts to float16 with dynamic loss scaling;
    "bf16-mixed" autocasts to bfloat16, whose float32-sized exponent needs no scaling.

    Raises:
        ValueError: an unknown name.
    """
    if precision == "fp32":
        return None, None
    if precision == "fp16-mixed":
        return numpy.dtype(numpy.float16), GradScaler()
    if precision == "bf16-mixed":
        return resolve_dtype("bfloat16"), None
    raise ValueError(
        f"unknown precision {precision!r}: expected one of {', '.join(map(repr, PRECISIONS))}"
    )


def inference_dtype(precision: str) -> numpy.dtype:
    """The storage dtype of ``--precision fp32 | fp16 | bf16`` for inference.

    Raises:
        ValueError: an unknown name.
    """
    table = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
    if precision not in table:
        raise ValueError(
            f"unknown precision {precision!r}: expected one of "
            f"{', '.join(map(repr, INFERENCE_PRECISIONS))}"
        )
    return resolve_dtype(table[precision])


# ------------------------------------------------------------------------ GradScaler
class _Stage(enum.Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


class GradScaler:
    """Dynamic loss scaling for float16 training, as ``torch.amp.GradScaler``.

    float16's smallest positive value is 6e-8 and its largest 65504: gradients of a
    well-trained network often fall below the first, and vanish. Multiplying the loss by S
    multiplies every gradient by S (the chain rule is linear), lifting them into range; the
    optimizer then sees the float32 gradients divided by S again. S is adjusted on the fly:

    * after a step whose gradients hold an inf or NaN: the step is skipped (weights and
      optimizer state untouched) and ``S <- S * backoff_factor``;
    * after ``growth_interval`` consecutive clean steps: ``S <- S * growth_factor`` (if the
      result is finite).

    Args:
        init_scale (float): the first S. Default: 2^16 = 65536.
        growth_factor (float): > 1. Default: 2.
        backoff_factor (float): in (0, 1). Default: 0.5.
        growth_interval (int): clean steps before S grows. Default: 2000.
        enabled (bool): False makes every method a pass-through. Default: True.

    Raises:
        ValueError: a factor or interval out of range.

    Example:
        >>> import tinyconv
        >>> w = tinyconv.nn.Parameter(tinyconv.tensor([1.0]))
        >>> opt = tinyconv.optim.SGD([w], lr=0.5)
        >>> scaler = GradScaler(init_scale=1024.0)
        >>> scaler.scale((w * 3.0).sum()).backward()   # grad 3 * 1024
        >>> scaler.step(opt); scaler.update()           # unscaled to 3: w = 1 - 0.5 * 3
        >>> w.tolist(), scaler.get_scale()
        ([-0.5], 1024.0)
    """

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        if not growth_factor > 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor!r}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(
                f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor!r}"
            )
        interval_ok = isinstance(growth_interval, int) and not isinstance(growth_interval, bool)
        if not interval_ok or growth_interval < 1:
            raise ValueError(
                f"GradScaler: growth_interval must be a positive int, got {growth_interval!r}"
            )
        if not init_scale > 0:
            raise ValueError(f"GradScaler: init_scale must be > 0, got {init_scale!r}")
        self._enabled = bool(enabled)
        self._scale = numpy.float32(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0  # clean steps in a row
        self._states: dict[int, dict[str, Any]] = {}  # per optimizer (by id): stage, found_inf
        self.last_step_skipped = False  # did the latest update() follow an inf/NaN step?
        self.skipped_steps = 0  # steps skipped since construction

    # ------------------------------------------------------------------- the loop
    def scale(self, outputs: Any) -> Any:
        """``outputs * S`` (a Tensor, or a list/tuple of Tensors), at least in float32.

        A 16-bit output is cast to float32 first: S = 65536 is not even a float16 number.
        """
        if not self._enabled:
            return outputs

        def one(t: Any) -> Any:
            if not isinstance(t, Tensor):
                raise TypeError(f"GradScaler.scale: expected Tensors, got {type(t).__name__}")
            if is_low_precision(t.dtype):
                t = t.to(numpy.float32)
            xp = get_array_module(t.data)
            return t * Tensor(xp.asarray(self._scale, dtype=t.dtype))

        if isinstance(outputs, Tensor):
            return one(outputs)
        if isinstance(outputs, Iterable):
            return type(outputs)(one(t) for t in outputs)  # type: ignore[call-arg]
        raise TypeError(
            f"GradScaler.scale: expected a Tensor or an iterable of Tensors, got "
            f"{type(outputs).__name__}"
        )

    def _state(self, optimizer: Any) -> dict[str, Any]:
        return self._states.setdefault(id(optimizer), {"stage": _Stage.READY, "found_inf": None})

    def unscale_(self, optimizer: Any) -> None:
        """Divide the optimizer's gradients by S (in place of ``.grad``) and look for inf/NaN.

        Optional: ``step`` calls it when it was not called; call it yourself to clip or inspect
        the true gradients first. At most once per optimizer between two ``update()`` calls.

        Raises:
            RuntimeError: called twice, or after ``step``, before ``update``.
            ValueError: a 16-bit gradient (the master weights must be float32).
        """
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] is _Stage.UNSCALED:
            raise RuntimeError(
                "GradScaler.unscale_() has already been called on this optimizer since the "
                "last update()."
            )
        if state["stage"] is _Stage.STEPPED:
            raise RuntimeError("GradScaler.unscale_() is being called after step().")
        inv_scale = numpy.float32(1.0 / float(self._scale))  # the reciprocal in float64, as torch
        found_inf = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if is_low_precision(g.dtype):
                    raise ValueError(
                        f"GradScaler: attempting to unscale {g.dtype} gradients (a parameter of "
                        f"shape {p.shape}); mixed precision keeps float32 master weights: train "
                        "a float32 model under autocast instead of a half() model"
                    )
                xp = get_array_module(g)
                found_inf = found_inf or not bool(xp.isfinite(g).all())
                if inv_scale != 1:  # out of place: a gradient array may be shared
                    p.grad = Tensor(g * g.dtype.type(inv_scale))
        state["found_inf"] = found_inf
        state["stage"] = _Stage.UNSCALED

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """Unscale (unless done), then ``optimizer.step()`` only if no gradient is inf/NaN.

        Returns:
            What ``optimizer.step`` returned, or None for a skipped step.

        Raises:
            RuntimeError: ``step`` called twice before ``update``, or with a closure.
        """
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs or args:
            raise RuntimeError("GradScaler.step: a closure is not supported")
        state = self._state(optimizer)
        if state["stage"] is _Stage.STEPPED:
            raise RuntimeError("GradScaler.step() has already been called since the last update().")
        if state["stage"] is _Stage.READY:
            self.unscale_(optimizer)
        out = None if state["found_inf"] else optimizer.step()
        state["stage"] = _Stage.STEPPED
        return out

    def update(self, new_scale: float | None = None) -> None:
        """Adjust S after this iteration's ``step`` calls (or set it to ``new_scale``).

        Raises:
            RuntimeError: no ``unscale_``/``step`` happened since the last update.
        """
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = numpy.float32(new_scale)
        else:
            infs = [s["found_inf"] for s in self._states.values() if s["found_inf"] is not None]
            if not infs:
                raise RuntimeError(
                    "GradScaler.update: no inf checks were recorded (call step() first)"
                )
            self.last_step_skipped = any(infs)
            if self.last_step_skipped:
                self.skipped_steps += 1
                self._scale = numpy.float32(float(self._scale) * self._backoff_factor)
                self._growth_tracker = 0
            elif self._growth_tracker + 1 == self._growth_interval:
                grown = numpy.float32(float(self._scale) * self._growth_factor)
                if numpy.isfinite(grown):
                    self._scale = grown
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
        self._states = {}

    # ------------------------------------------------------------------- queries
    def get_scale(self) -> float:
        """The current S (1.0 when disabled)."""
        return float(self._scale) if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict[str, Any]:
        """JSON-able ``{"scale", "growth_factor", "backoff_factor", "growth_interval",
        "_growth_tracker"}`` (empty when disabled), the keys of PyTorch's."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned.

        Raises:
            RuntimeError: an empty state dict (saved from a disabled scaler) into an enabled one.
        """
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError(
                "GradScaler.load_state_dict: the state dict is empty (saved from a disabled scaler)"
            )
        self._scale = numpy.float32(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])

    def __repr__(self) -> str:
        return (
            f"GradScaler(scale={self.get_scale():g}, growth_factor={self._growth_factor:g}, "
            f"backoff_factor={self._backoff_factor:g}, growth_interval={self._growth_interval})"
        )
