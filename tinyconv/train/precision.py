"""Mixed precision in ``fit``: what one training step does for ``precision="fp32" | "fp16-mixed" |
"bf16-mixed"`` (built on ``tinyconv.amp``).

    with precision.autocast():                 # 16-bit conv/linear, float32 softmax/loss
        loss = loss_fn(model(x), y)
    precision.step(loss, optimizer, batch)     # zero_grad, backward, step (scaled for fp16)

"fp32" and "bf16-mixed" step plainly, and a NaN or infinite loss is divergence at once.
"fp16-mixed" scales the loss with a ``GradScaler`` before backward; a step whose gradients (or
loss) overflow is skipped and the scale halved, and only ``MAX_SKIPPED_STEPS`` skipped steps in
a row count as divergence. The scaler's state goes into the checkpoints.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from typing import Any

import numpy

from ..amp import autocast, training_precision
from .batches import model_placement
from .divergence import Diverged

MAX_SKIPPED_STEPS = 30  # fp16-mixed: this many overflowing steps in a row is divergence


class TrainingPrecision:
    """The precision of one ``fit`` call: its autocast dtype and, for float16, its GradScaler.

    Args:
        precision (str): "fp32", "fp16-mixed" or "bf16-mixed".
        model: the model to train (mixed precision needs float32 master weights).
        distributed: fit's ``distributed`` argument (fp16-mixed is not supported with it).

    Raises:
        ValueError: an unknown precision, a mixed precision for a model that is not float32, or
            fp16-mixed with distributed training.
    """

    def __init__(self, precision: str, model: Any, distributed: Any = False) -> None:
        self.dtype, self.scaler = training_precision(precision)
        model_dtype, _ = model_placement(model)
        if self.dtype is not None and model_dtype != numpy.float32:
            raise ValueError(
                f"fit: precision={precision!r} keeps float32 master weights, but the model is "
                f"{model_dtype}; call model.float() first (a half() model is for inference)"
            )
        if self.scaler is not None and distributed:
            raise ValueError(
                "fit: precision='fp16-mixed' is not supported with distributed training (a rank "
                "that skips an overflowing step would leave the others waiting); use 'bf16-mixed'"
            )
        self.skipped_in_a_row = 0

    @property
    def skips_bad_steps(self) -> bool:
        """True for fp16-mixed: a non-finite loss skips its step instead of stopping the run."""
        return self.scaler is not None

    def autocast(self) -> AbstractContextManager[None]:
        """The block for the forward pass and the loss (a no-op for fp32)."""
        return autocast(self.dtype, enabled=self.dtype is not None)

    def step(self, loss: Any, value: float, optimizer: Any, batch: int) -> None:
        """``optimizer.zero_grad()``, backward of ``loss`` (whose value is ``value``), then a step.

        Raises:
            Diverged: a non-finite loss (fp32, bf16-mixed), or ``MAX_SKIPPED_STEPS`` overflowing
                steps in a row (fp16-mixed).
        """
        if not math.isfinite(value) and self.scaler is None:
            raise Diverged(f"the loss became {value}", batch)
        optimizer.zero_grad()
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()
        self.skipped_in_a_row = self.skipped_in_a_row + 1 if self.scaler.last_step_skipped else 0
        if self.skipped_in_a_row >= MAX_SKIPPED_STEPS:
            raise Diverged(
                f"{self.skipped_in_a_row} steps in a row had inf/NaN gradients (loss {value}, "
                f"loss scale now {self.scaler.get_scale():g})",
                batch,
            )

    def state_dict(self) -> dict[str, Any] | None:
        """The GradScaler's state for a checkpoint (None without one)."""
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore the GradScaler from a checkpoint's state (nothing to do without one)."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
