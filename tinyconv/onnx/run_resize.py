"""ONNX ``Resize`` (opsets 10 to 19) and ``Upsample`` (7, 9) as tinyconv's ``Resample``.

Both are separable: each resized axis of input length n becomes m outputs, output d reading
y[d] = sum_t w[d, t] x[idx[d, t]], which is exactly what ``ops.interpolate.Resample`` (the
Function behind ``interpolate``, with its backward) computes from a plan of (axis, idx, w).
The plan is worked out here from the node's attributes, for the input's shape at each call,
in float64 as ONNX's reference does:

    scale s = scales[a], m = floor(n s); or m = sizes[a], s = m / n (keep_aspect_ratio_policy
    "not_larger"/"not_smaller": one s, the min/max over the axes, and m = round(n s)).
    Source position x of output d (L = s n, the unrounded output length):
        half_pixel          (d + 1/2) / s - 1/2
        pytorch_half_pixel  the same, 0 when m = 1
        half_pixel_symmetric  n/2 (1 - m/L) + (d + 1/2) / s - 1/2
        align_corners       d (n - 1) / (L - 1), 0 when L = 1
        asymmetric          d / s       (opset 10 and Upsample)
        tf_half_pixel_for_nn  (d + 1/2) / s
        tf_crop_and_resize  roi: start (n - 1) + d (end - start)(n - 1) / (L - 1); outside
                            [0, n - 1] the output is extrapolation_value
    nearest: x rounded by nearest_mode (round_prefer_floor: ceil(x - 1/2), round_prefer_ceil:
        floor(x + 1/2), floor, ceil; opset 10 and Upsample: floor, or ceil when s < 1, as
        onnxruntime does), clamped to [0, n - 1].
    linear / cubic: i0 = floor(x), r = x - i0 (an integer x counts as i0 = x - 1, r = 1);
        taps i0 + j, j = j0 .. 1 - j0 with j0 = floor(-R / k) + 1 (R = 1 linear, 2 cubic; k = 1,
        or min(s, 1) with antialias); w = K((j - r) k): the triangle 1 - |u| or Keys' cubic with
        cubic_coeff_a, normalised with antialias; exclude_outside zeroes the taps outside the
        axis and renormalises; the tap indices are then clamped to the axis (edge values).

What it cannot do is an error naming the node: a non-float input, antialias with nearest,
unknown modes, neither or both of scales and sizes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from ..backend import get_array_module, to_device
from ..ops import basic
from ..ops.interpolate import Resample
from ..tensor import Tensor
from .run_ops import Ctx, _axis, _floats, _ints, _tensor, op

TRANSFORMS = (
    "half_pixel",
    "pytorch_half_pixel",
    "half_pixel_symmetric",
    "align_corners",
    "asymmetric",
    "tf_half_pixel_for_nn",
    "tf_crop_and_resize",
)
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def source_position(
    transform: str, n: int, m: int, s: float, roi: tuple[float, float] | None
) -> numpy.ndarray:
    """x (m,): the input position output d = 0 .. m - 1 reads along one axis (float64)."""
    d = numpy.arange(m, dtype=numpy.float64)
    length = s * n  # the unrounded output length
    if transform == "half_pixel":
        return (d + 0.5) / s - 0.5
    if transform == "pytorch_half_pixel":
        return (d + 0.5) / s - 0.5 if m > 1 else numpy.zeros(m)
    if transform == "half_pixel_symmetric":
        return n / 2 * (1 - m / length) + (d + 0.5) / s - 0.5
    if transform == "align_corners":
        return d * (n - 1) / (length - 1) if length != 1 else numpy.zeros(m)
    if transform == "asymmetric":
        return d / s
    if transform == "tf_half_pixel_for_nn":
        return (d + 0.5) / s
    assert transform == "tf_crop_and_resize" and roi is not None
    start, end = roi
    if length == 1:
        return numpy.full(m, (end - start) * (n - 1) / 2 + start * (n - 1))
    return d * (end - start) * (n - 1) / (length - 1) + start * (n - 1)


def _keys_cubic(u: numpy.ndarray, a: float) -> numpy.ndarray:
    """Keys' cubic convolution kernel at |u| (0 beyond 2)."""
    u = numpy.abs(u)
    near = ((a + 2) * u - (a + 3)) * u * u + 1
    far = ((a * u - 5 * a) * u + 8 * a) * u - 4 * a
    return numpy.where(u <= 1, near, numpy.where(u < 2, far, 0.0))


def axis_plan(
    x: numpy.ndarray, n: int, mode: str, nearest_mode: str, cubic_a: float,
    exclude_outside: bool, antialias: bool, s: float,
) -> tuple[numpy.ndarray, numpy.ndarray]:  # fmt: skip
    """(idx, w), both (m, k), for source positions ``x`` (m,) on an axis of length n."""
    if mode == "nearest":
        if nearest_mode == "simple":  # opset 10 and Upsample (onnxruntime's rule)
            nearest_mode = "ceil" if s < 1 else "floor"
        if nearest_mode == "round_prefer_floor":
            src = numpy.ceil(x - 0.5)
        elif nearest_mode == "round_prefer_ceil":
            src = numpy.floor(x + 0.5)
        else:
            src = numpy.floor(x) if nearest_mode == "floor" else numpy.ceil(x)
        idx = numpy.clip(src.astype(numpy.int64), 0, n - 1)[:, None]
        return idx, numpy.ones(idx.shape)
    i0 = numpy.floor(x)
    r = x - i0
    exact = r == 0  # the reference's convention: an exact position is the right-hand tap
    i0, r = numpy.where(exact, i0 - 1, i0), numpy.where(exact, 1.0, r)
    radius = 1 if mode == "linear" else 2
    k = min(s, 1.0) if antialias else 1.0
    j0 = math.floor(-radius / k) + 1
    j = numpy.arange(j0, 2 - j0, dtype=numpy.float64)[None, :]
    u = (j - r[:, None]) * k
    w = numpy.clip(1 - numpy.abs(u), 0, 1) if mode == "linear" else _keys_cubic(u, cubic_a)
    if antialias:
        w = w / w.sum(axis=1, keepdims=True)
    idx = i0.astype(numpy.int64)[:, None] + j.astype(numpy.int64)
    if exclude_outside:
        w = numpy.where((idx < 0) | (idx >= n), 0.0, w)
        total = w.sum(axis=1, keepdims=True)
        w = w / numpy.where(total == 0, 1.0, total)
    return numpy.clip(idx, 0, n - 1), w


def _present(v: list[Any], i: int) -> bool:
    """Input i is given and not empty (Resize's optional roi/scales/sizes)."""
    return len(v) > i and v[i] is not None and int(numpy.prod(getattr(v[i], "shape", (1,)))) > 0


def _targets(
    shape: tuple[int, ...], axes: list[int], scales: list[float] | None,
    sizes: list[int] | None, policy: str, ctx: Ctx,
) -> list[tuple[float, int]]:  # fmt: skip
    """(s, m) per axis of ``axes``."""
    if scales is not None:
        if len(scales) != len(axes):
            raise ctx.error(f"scales {scales} do not fit {len(axes)} axes of input {shape}")
        if min(scales) <= 0:
            raise ctx.error(f"scales must be positive, got {scales}")
        return [(s, int(s * shape[a])) for s, a in zip(scales, axes, strict=True)]
    assert sizes is not None
    if len(sizes) != len(axes):
        raise ctx.error(f"sizes {sizes} do not fit {len(axes)} axes of input {shape}")
    if min(sizes) < 1:
        raise ctx.error(f"sizes must be at least 1, got {sizes}")
    ratios = [m / shape[a] for m, a in zip(sizes, axes, strict=True)]
    if policy == "stretch":
        return list(zip(ratios, sizes, strict=True))
    if policy not in ("not_larger", "not_smaller"):
        raise ctx.error(f"keep_aspect_ratio_policy {policy!r} is not one of stretch, "
                        "not_larger, not_smaller")  # fmt: skip
    s = min(ratios) if policy == "not_larger" else max(ratios)
    return [(s, int(s * shape[a] + 0.5)) for a in axes]


def resize(
    x: Any, axes: list[int], targets: list[tuple[float, int]], attrs: dict[str, Any],
    roi: list[float] | None, ctx: Ctx,
) -> Tensor:  # fmt: skip
    """x resized along ``axes`` to the (s, m) ``targets`` with the Resize ``attrs``."""
    mode = attrs["mode"]
    transform = attrs["transform"]
    if transform not in TRANSFORMS:
        raise ctx.error(f"coordinate_transformation_mode {transform!r} is not one of "
                        + ", ".join(TRANSFORMS))  # fmt: skip
    if mode not in ("nearest", "linear", "cubic"):
        raise ctx.error(f"mode {mode!r} is not supported (nearest, linear, cubic)")
    if attrs["nearest_mode"] not in (*NEAREST_MODES, "simple"):
        raise ctx.error(f"nearest_mode {attrs['nearest_mode']!r} is not one of "
                        + ", ".join(NEAREST_MODES))  # fmt: skip
    if attrs["antialias"] and mode == "nearest":
        raise ctx.error("antialias is not defined for mode 'nearest'")
    if not isinstance(x, Tensor) or x.dtype.kind != "f":
        kind = x.dtype if hasattr(x, "dtype") else type(x).__name__
        raise ctx.error(f"only floating-point inputs are resized, got {kind}")
    crop = transform == "tf_crop_and_resize"
    if crop and roi is None:
        raise ctx.error("coordinate_transformation_mode 'tf_crop_and_resize' needs a roi input")
    xp = get_array_module(x.data)
    plan: list[tuple[int, Any, Any]] = []
    y = x
    for j, (axis, (s, m)) in enumerate(zip(axes, targets, strict=True)):
        n = y.shape[axis]
        box = (roi[j], roi[j + len(axes)]) if crop and roi is not None else None
        if m == n and math.isclose(s, 1.0) and (box is None or box == (0.0, 1.0)):
            continue  # nothing to do on this axis
        pos = source_position(transform, n, m, s, box)
        idx, w = axis_plan(pos, n, mode, attrs["nearest_mode"], attrs["cubic_a"],
                           attrs["exclude_outside"], attrs["antialias"], s)  # fmt: skip
        outside = (pos < 0) | (pos > n - 1) if crop else None
        if outside is not None and outside.any():
            w = numpy.where(outside[:, None], 0.0, w)
        weights = None if mode == "nearest" and outside is None else w
        step = (axis, xp.asarray(to_device(idx, x.device)),
                None if weights is None else xp.asarray(to_device(weights.astype(x.dtype),
                                                                  x.device)))  # fmt: skip
        if outside is None or not outside.any():
            plan.append(step)
            continue
        if plan:  # an extrapolating axis: resample what came before, then add the value
            y = Resample.apply(y, plan=tuple(plan))
            plan = []
        y = Resample.apply(y, plan=(step,))
        fill = [1] * y.ndim
        fill[axis] = m
        value = outside.astype(numpy.float64) * float(attrs["extrapolation_value"])
        y = basic.Add.apply(y, _tensor(value.reshape(fill), y))
    return Resample.apply(y, plan=tuple(plan)) if plan else y


@op("Resize")
def _resize(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    rank = len(x.shape)
    axes = [_axis(i, rank, ctx) for i in a.get("axes", range(rank))]
    if ctx.opset < 11:  # (X, scales), asymmetric coordinates
        scales_i, sizes_i, roi_i = 1, None, None
        transform = "asymmetric"
    else:
        scales_i, sizes_i, roi_i = 2, 3, 1
        transform = a.get("coordinate_transformation_mode", "half_pixel")
    scales = _floats(v[scales_i]) if _present(v, scales_i) else None
    sizes = _ints(v[sizes_i]) if sizes_i is not None and _present(v, sizes_i) else None
    if (scales is None) == (sizes is None):
        raise ctx.error("give exactly one of the scales and sizes inputs")
    roi = _floats(v[roi_i]) if roi_i is not None and _present(v, roi_i) else None
    if roi is not None and len(roi) != 2 * len(axes):
        roi = None if transform != "tf_crop_and_resize" else roi
        if roi is not None:
            raise ctx.error(f"roi {roi} does not fit {len(axes)} axes")
    attrs = {
        "mode": a.get("mode", "nearest"),
        "transform": transform,
        "nearest_mode": a.get(
            "nearest_mode", "round_prefer_floor" if ctx.opset >= 11 else "simple"
        ),
        "cubic_a": float(a.get("cubic_coeff_a", -0.75)),
        "exclude_outside": bool(a.get("exclude_outside", 0)),
        "extrapolation_value": float(a.get("extrapolation_value", 0.0)),
        "antialias": bool(a.get("antialias", 0)),
    }
    policy = a.get("keep_aspect_ratio_policy", "stretch")
    targets = _targets(tuple(x.shape), axes, scales, sizes, policy, ctx)
    return resize(x, axes, targets, attrs, roi, ctx)


@op("Upsample")  # opsets 7 (scales attribute) and 9 (scales input); deprecated since 10
def _upsample(v: list[Any], a: dict[str, Any], ctx: Ctx) -> Tensor:
    x = v[0]
    scales = _floats(v[1]) if len(v) > 1 and v[1] is not None else list(a["scales"])
    if min(scales) < 1:
        raise ctx.error(f"Upsample scales must be at least 1 (use Resize to shrink), got {scales}")
    mode = a.get("mode", "nearest")
    if mode == "bilinear":
        mode = "linear"
    rank = len(x.shape)
    attrs = {
        "mode": mode,
        "transform": "asymmetric",
        "nearest_mode": "simple",
        "cubic_a": -0.75,
        "exclude_outside": False,
        "extrapolation_value": 0.0,
        "antialias": False,
    }
    targets = _targets(tuple(x.shape), list(range(rank)), scales, None, "stretch", ctx)
    return resize(x, list(range(rank)), targets, attrs, None, ctx)


__all__ = ["axis_plan", "resize", "source_position"]
