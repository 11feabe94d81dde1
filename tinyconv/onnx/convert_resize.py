"""``interpolate`` as ONNX ``Resize`` and the reflect/replicate pads as ``Pad``, so an exported
model runs at other input sizes too.

A traced ``Resample`` holds only its plan, (axis, idx, w) per axis: output d of an axis of
length n reads sum_t w[d, t] x[idx[d, t]]. The converter finds the Resize attributes whose
ONNX meaning gives the same resampling matrix A (m, n) = sum_t w[:, t] onehot(idx[:, t])
on every axis (``run_resize.axis_plan`` computes it, as ``tinyconv.onnx.load`` does):

    nearest         mode nearest, asymmetric, nearest_mode floor: src = floor(d / s)
    nearest-exact   mode nearest, half_pixel, round_prefer_ceil: floor((d + 1/2) / s)
    (bi)linear      mode linear, half_pixel, or align_corners
    bicubic         mode cubic, cubic_coeff_a -0.75, half_pixel or align_corners

with the ``scales`` input (1, 1, s...) when floor(n s) = m and s reproduces the plan (s = m/n,
or for linear and cubic the scale read off the plan's positions, rounded to 6 digits), or
``sizes`` (N and C from ``Shape(input)``, the traced spatial sizes): scales first when every
m/n or n/m is a whole number, or all axes share one m/n of at most two decimals
(scale_factor=2 or 1.5 keeps scaling at other sizes), sizes first otherwise (size=(13, 11)
stays 13 x 11). The trace cannot tell size=(16, 16) from scale_factor=2 on an 8 x 8 input.
A plan none of these reproduces ("area" in 3-D, a non-integer nearest scale factor) stays
the exact Gathers of
``convert_modern``, correct at the traced size only. Pad: reflect and replicate (edge) with
non-negative widths (reflect below the axis length); circular stays Gathers (Pad's wrap mode
is opset 19).
"""

from __future__ import annotations

from typing import Any

import numpy

from ..ops.interpolate import Resample
from ..ops.pad import IndexPad
from .convert import Graph, _host, _shape, converts
from .convert_modern import _index_pad_gathers, _resample_gathers
from .run_resize import axis_plan, source_position
from .trace import Call

# (Resize attributes, extra) per tinyconv mode family, tried in order
FORMS: tuple[dict[str, Any], ...] = (
    {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
    {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
     "nearest_mode": "round_prefer_ceil"},
    {"mode": "linear", "coordinate_transformation_mode": "half_pixel"},
    {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
    {"mode": "cubic", "coordinate_transformation_mode": "half_pixel", "cubic_coeff_a": -0.75},
    {"mode": "cubic", "coordinate_transformation_mode": "align_corners", "cubic_coeff_a": -0.75},
)  # fmt: skip


def dense(idx: numpy.ndarray, w: Any, n: int) -> numpy.ndarray:
    """A (m, n) = sum_t w[:, t] onehot(idx[:, t]) in float64."""
    m, k = idx.shape
    a = numpy.zeros((m, n))
    for t in range(k):
        numpy.add.at(a, (numpy.arange(m), idx[:, t]), 1.0 if w is None else w[:, t])
    return a


def onnx_matrix(form: dict[str, Any], n: int, m: int, s: float) -> numpy.ndarray:
    """The resampling matrix of one axis under Resize attributes ``form`` with scale s."""
    pos = source_position(form["coordinate_transformation_mode"], n, m, s, None)
    idx, w = axis_plan(pos, n, form["mode"], form.get("nearest_mode", "round_prefer_floor"),
                       form.get("cubic_coeff_a", -0.75), False, False, s)  # fmt: skip
    return dense(idx, w, n)


def plan_scale(idx: numpy.ndarray, w: Any, n: int, m: int) -> float | None:
    """The scale m/n-like factor s a linear or cubic plan used, read off its positions."""
    if w is None or m < 3:
        return None
    a = dense(idx, w, n)
    centre = a @ numpy.arange(n)  # the position each output reads (exact away from the edges)
    inner = [d for d in range(m) if 1.5 < centre[d] < n - 2.5]
    if len(inner) < 2:
        return None
    d1, d2 = inner[0], inner[-1]
    step = (centre[d2] - centre[d1]) / (d2 - d1)
    return float(f"{1 / step:.6g}") if step > 0 else None


def _fits(form: dict[str, Any], axes: list[tuple[int, int, numpy.ndarray, float]]) -> bool:
    return all(
        numpy.allclose(onnx_matrix(form, n, m, s), a, rtol=0, atol=2e-6) for n, m, a, s in axes
    )


def resize_form(c: Call) -> tuple[dict[str, Any], str, list[float]] | None:
    """(attributes, "scales" or "sizes", per-axis scales) reproducing the traced plan, or None."""
    shape = list(_shape(c.inputs[0]))
    found = []
    for axis, idx, w in c.kwargs["plan"]:
        ids = _host(idx).astype(numpy.int64)
        ws = None if w is None else _host(w).astype(numpy.float64)
        n, m = shape[axis], ids.shape[0]
        found.append((axis, n, m, ids, ws))
        shape[axis] = m
    ratios = {m / n for _, n, m, _, _ in found}
    clean = all(m % n == 0 or n % m == 0 for _, n, m, _, _ in found) or (
        len(ratios) == 1 and float(100 * ratios.pop()).is_integer()
    )
    kinds = ("scales", "sizes") if clean else ("sizes", "scales")  # size=(13, 11): sizes
    for form in FORMS:
        if (form["mode"] == "nearest") != all(ws is None or ws.shape[1] == 1 for *_, ws in found):
            continue
        for kind in kinds:
            scales = []
            for _, n, m, ids, ws in found:
                choices = [m / n]
                if kind == "scales" and form["mode"] != "nearest":
                    guess = plan_scale(ids, ws, n, m)
                    choices += [guess] if guess else []
                ok = [s for s in choices
                      if (kind == "sizes" or int(numpy.float32(s) * numpy.float32(n)) == m
                          and int(s * n) == m)]  # fmt: skip
                best = next((s for s in ok if _fits(form, [(n, m, dense(ids, ws, n), s)])), None)
                if best is None:
                    break
                scales.append(best)
            else:
                return form, kind, scales
    return None


@converts(Resample)
def _resample(g: Graph, c: Call) -> str:
    found = resize_form(c)
    if found is None:
        return _resample_gathers(g, c)
    form, kind, per_axis = found
    x = c.inputs[0]
    rank = len(_shape(x))
    axes = [int(axis) for axis, _, _ in c.kwargs["plan"]]
    if kind == "scales":
        scales = [1.0] * rank
        for axis, s in zip(axes, per_axis, strict=True):
            scales[axis] = s
        inputs = [g.name(x), "", g.const(numpy.asarray(scales, dtype=numpy.float32), "Scales")]
    else:
        out = list(_shape(c.output))
        keep = [a for a in range(rank) if a not in axes]
        if keep != list(range(len(keep))):
            return _resample_gathers(g, c)  # resized axes must be the trailing ones
        head = g.node("Slice", [g.node("Shape", [g.name(x)]), g.ints([0]), g.ints([len(keep)])])
        sizes = g.node("Concat", [head, g.ints(out[len(keep) :])], axis=0)
        inputs = [g.name(x), "", "", sizes]
    return g.node("Resize", inputs, **form)


@converts(IndexPad)
def _index_pad(g: Graph, c: Call) -> str:
    (x,) = c.inputs
    shape = list(_shape(x))
    mode = {"reflect": "reflect", "replicate": "edge"}.get(c.kwargs["mode"])
    widths = [(int(a), int(b), int(e)) for a, b, e in c.kwargs["pads"]]
    seen = [a for a, _, _ in widths]
    plain = (
        mode is not None
        and len(set(seen)) == len(seen)
        and all(
            b >= 0 and e >= 0 and (mode == "edge" or max(b, e) < shape[a]) for a, b, e in widths
        )
    )
    if not plain:
        return _index_pad_gathers(g, c)
    pads = [0] * (2 * len(shape))
    for axis, before, after in widths:
        pads[axis], pads[axis + len(shape)] = before, after
    return g.node("Pad", [g.name(x), g.ints(pads)], mode=mode)


__all__ = ["dense", "onnx_matrix", "plan_scale", "resize_form"]
