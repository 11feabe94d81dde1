"""The ``Optimizer`` base class: parameter groups, per-parameter state and state dicts.

Shaped like ``torch.optim.Optimizer``. Parameters are kept in ``param_groups`` (a list of
dicts, each with a ``params`` list and its own hyper-parameters), the running state of each
parameter (momentum buffers, moment estimates, step counts) in ``state[param]``.

``state_dict()`` replaces parameters by their index (counted across groups, in order), so it
can be loaded into a fresh optimizer built over a fresh copy of the model. Its hyper-parameters
are JSON-able; the arrays can be split off with ``flatten_state_dict`` into ``{str: array}``
plus a JSON-able dict, the shape a safetensors file stores (``tinyconv.io.save_state_dict``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from ..backend import get_array_module, to_device
from ..tensor import Tensor, enable_grad

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


def check_hyper(opt: str, name: str, value: float, ok: bool, expected: str) -> None:
    """Unless ``ok``, raise ``ValueError("<opt>: invalid <name>=<value>: expected <expected>")``."""
    if not ok:
        raise ValueError(f"{opt}: invalid {name}={value!r}: expected {expected}")


def check_lr(opt: str, lr: float) -> None:
    check_hyper(opt, "learning rate lr", lr, lr >= 0, "lr >= 0")


class Optimizer:
    """Base class of the optimizers: subclasses define ``_update(p, grad, state, group)``.

    Args:
        params: an iterable of Parameters, or of dicts ``{"params": [...], "lr": ...}`` giving
            each group its own hyper-parameters (missing ones come from ``defaults``).
        defaults (dict): the default hyper-parameters of every group.

    Raises:
        TypeError: ``params`` is a single Tensor, or holds something that is not a Tensor.
        ValueError: an empty parameter list, or a parameter appearing in two groups.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, "
                "got a single Tensor (pass model.parameters() or [tensor])"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``params``) with its own hyper-parameters."""
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{type(self).__name__}: a param group must be a dict, "
                f"got {type(param_group).__name__}"
            )
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{type(self).__name__}: a param group needs a 'params' key")
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: can only optimize Tensors, but params[{i}] is a "
                    f"{type(p).__name__}"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a param group holds the same parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(
                f"{type(self).__name__}: some parameters appear in more than one param group"
            )
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate one group's hyper-parameters (subclasses add their own checks)."""
        check_lr(type(self).__name__, group["lr"])

    # ------------------------------------------------------------------- stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (a fresh zero array if ``set_to_none=False``).

        A gradient array is never zeroed in place: it may be shared with another tensor.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    xp = get_array_module(p.grad.data)
                    p.grad = Tensor(xp.zeros_like(p.grad.data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient (those whose ``grad`` is None are skipped).

        Args:
            closure: optional callable that re-evaluates the model and returns the loss.

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                if tuple(grad.shape) != tuple(p.data.shape):
                    raise ValueError(
                        f"{type(self).__name__}: gradient shape {tuple(grad.shape)} does not match "
                        f"parameter shape {tuple(p.data.shape)}"
                    )
                if grad.dtype != p.data.dtype:
                    grad = grad.astype(p.data.dtype)
                if group.get("maximize", False):
                    grad = -grad
                self._update(p, grad, self.state.setdefault(p, {}), group)
        return loss

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update ``p.data`` in place from ``grad`` (an array that must not be modified)."""
        raise NotImplementedError(f"{type(self).__name__} must define _update()")

    # ----------------------------------------------------------------- state dict
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: value}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are replaced by their position across all groups, as in PyTorch. Arrays are
        copies, so later steps do not change a saved state dict.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            g = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            g["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                g["params"].append(index[id(p)])
            groups.append(g)
        state: dict[int, dict[str, Any]] = {}
        for p, s in self.state.items():
            if id(p) in index and s:
                state[index[id(p)]] = {k: _copy_value(v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and per-parameter state saved by ``state_dict()``.

        State arrays are cast to each parameter's dtype and moved to its device.

        Raises:
            ValueError: the number of groups or of parameters in a group differs.
        """
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the saved state has {len(saved_groups)} param group(s), "
                f"this optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: param group {i} has {len(saved['params'])} "
                    f"parameter(s) in the saved state but {len(group['params'])} here"
                )
            for idx, p in zip(saved["params"], group["params"], strict=True):
                by_index[int(idx)] = p
        for saved, group in zip(saved_groups, self.param_groups, strict=True):
            for k, v in saved.items():
                if k == "params":
                    continue
                # JSON turns tuples (betas) into lists: keep the type the group had.
                group[k] = (
                    tuple(v) if isinstance(v, list) and isinstance(group.get(k), tuple) else v
                )
        self.state = {}
        for idx, s in state_dict["state"].items():
            p = by_index.get(int(idx))
            if p is None:
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter {idx}, which no group holds"
                )
            self.state[p] = {k: _cast_like(v, p) for k, v in s.items()}


def _copy_value(v: Any) -> Any:
    return v.copy() if hasattr(v, "shape") and hasattr(v, "copy") else copy.deepcopy(v)


def _cast_like(v: Any, p: Tensor) -> Any:
    """A copy of array ``v`` on ``p``'s device with ``p``'s dtype; numbers are kept."""
    if isinstance(v, Tensor):
        v = v.data
    if not hasattr(v, "shape"):
        return v
    arr = to_device(v, p.device)
    xp = get_array_module(p.data)
    return xp.array(arr, dtype=p.data.dtype, copy=True)


def flatten_state_dict(state_dict: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split an optimizer state dict into arrays and JSON-able data (for safetensors + JSON).

    Returns:
        ``(arrays, meta)``: ``arrays`` maps ``"state.<index>.<name>"`` to each state array;
        ``meta`` holds the param groups and the numeric state (``step``) by index.

    Example:
        >>> import tinyconv, numpy
        >>> from tinyconv.optim import SGD
        >>> w = tinyconv.nn.Parameter(numpy.ones(2, dtype=numpy.float32))
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = tinyconv.tensor([1.0, 2.0])
        >>> opt.step()
        >>> arrays, meta = flatten_state_dict(opt.state_dict())
        >>> sorted(arrays), meta["param_groups"][0]["momentum"]
        (['state.0.momentum_buffer'], 0.9)
    """
    arrays: dict[str, Any] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, s in state_dict["state"].items():
        for k, v in s.items():
            if isinstance(v, Tensor):
                v = v.data
            if hasattr(v, "shape"):
                arrays[f"state.{idx}.{k}"] = v
            else:
                scalars.setdefault(str(idx), {})[k] = v
    meta = {"param_groups": copy.deepcopy(state_dict["param_groups"]), "scalars": scalars}
    return arrays, meta


def unflatten_state_dict(arrays: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of ``flatten_state_dict``: rebuild ``{"state": ..., "param_groups": ...}``."""
    state: dict[int, dict[str, Any]] = {}
    for idx, s in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(s)
    for key, arr in arrays.items():
        head, idx, name = key.split(".", 2)
        if head != "state":
            raise ValueError(
                f"unflatten_state_dict: unexpected key {key!r} (expected 'state.<index>.<name>')"
            )
        state.setdefault(int(idx), {})[name] = arr
    return {"state": state, "param_groups": copy.deepcopy(meta["param_groups"])}
