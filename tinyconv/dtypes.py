"""16-bit floating-point types and the float32 arithmetic that keeps them accurate.

tinyconv stores tensors in float32 by default and also in two 16-bit formats:

============  =====  ========  ===================  ==========================================
dtype         bits   exponent  mantissa (explicit)  largest finite value, smallest normal
============  =====  ========  ===================  ==========================================
float32       32     8         23                   3.4e38, 1.2e-38
float16       16     5         10                   65504, 6.1e-5 (IEEE half precision)
bfloat16      16     8         7                    3.4e38, 1.2e-38 (float32's range, 3 digits)
============  =====  ========  ===================  ==========================================

float16 is NumPy's own. bfloat16 comes from ``ml_dtypes`` (the optional extra
``tinyconv[fp16]``), a NumPy dtype extension; its ``numpy.dtype`` has kind ``"V"``, not
``"f"``, so code must ask ``is_floating`` instead of testing ``dtype.kind == "f"``.

A 16-bit number keeps only 3-4 significant digits, so sums of many of them must not be
accumulated in 16 bits: NumPy adds a float16 array along a strided axis in float16, and
a bfloat16 array always in bfloat16 (10,000 ones add up to 256). The helpers below
therefore convert to float32, compute, and round the result back to the storage dtype once:
``matmul32`` for matrix products (NumPy has no fast 16-bit matrix product either: BLAS works
in float32 and float64 only) and ``sum32``/``mean32`` for reductions.

Example:
    >>> import numpy
    >>> h = numpy.ones((4096, 2), dtype=numpy.float16)
    >>> float(h.sum(axis=0)[0]), float(sum32(h, axis=0)[0])   # float16 stops at 2048
    (2048.0, 4096.0)
"""

from __future__ import annotations

from typing import Any

import numpy

FLOAT32 = numpy.dtype(numpy.float32)


def bfloat16() -> numpy.dtype:
    """The bfloat16 dtype from ``ml_dtypes``.

    Raises:
        ImportError: ml_dtypes is not installed; the message names the extra to install.
    """
    try:
        import ml_dtypes  # noqa: PLC0415
    except ImportError as e:
        raise ImportError(
            "tinyconv: bfloat16 needs the ml_dtypes package, which is not installed. "
            "Install it with `pip install tinyconv[fp16]` (or `pip install ml_dtypes`); "
            "float16 works without it."
        ) from e
    return numpy.dtype(ml_dtypes.bfloat16)


def is_floating(dtype: Any) -> bool:
    """True for float16/32/64 and bfloat16 (whose NumPy kind is "V")."""
    dtype = numpy.dtype(dtype)
    return dtype.kind == "f" or dtype.name == "bfloat16"


def is_low_precision(dtype: Any) -> bool:
    """True for the 16-bit floating-point dtypes float16 and bfloat16."""
    dtype = numpy.dtype(dtype)
    return is_floating(dtype) and dtype.itemsize == 2


def compute_dtype(dtype: Any) -> numpy.dtype:
    """The dtype arithmetic runs in: float32 for 16-bit storage, else the dtype itself."""
    dtype = numpy.dtype(dtype)
    return FLOAT32 if is_low_precision(dtype) else dtype


def to_compute(a: Any) -> Any:
    """``a`` converted to float32 when it is 16-bit (a new array); otherwise ``a`` itself."""
    return a.astype(FLOAT32) if is_low_precision(a.dtype) else a


def as_bits(a: Any) -> Any:
    """A 16-bit float array's bits as an int16 view; any other array as it is.

    Zeroing elements by a 0/1 mask (``bits * mask``) and the test ``x > 0`` (``bits > 0``)
    give exactly the float results on these integers (NaN aside: a positive NaN passes the
    test), and NumPy runs them 20-50x faster there: its float16 loops convert every element
    to float32 and back. ReLU and max pooling use it.
    """
    return a.view(numpy.int16) if is_low_precision(a.dtype) else a


def order_key(bits: Any) -> Any:
    """int16 keys that sort like the 16-bit floats whose bits they are; its own inverse.

    A float16 or bfloat16 is sign and magnitude: read as int16, the positive numbers already
    sort right and the negative ones backwards. Flipping the 15 magnitude bits of the
    negative ones fixes that (-inf < -1 < -0 < +0 < 1 < inf; NaN aside), so a max or a
    comparison of the keys is one of the floats, at integer speed (max pooling uses it).

    Example:
        >>> import numpy
        >>> x = numpy.array([-numpy.inf, -1, -0.0, 0, 0.5, numpy.inf], dtype=numpy.float16)
        >>> k = order_key(as_bits(x))
        >>> bool((numpy.diff(k) > 0).all()), bool((order_key(k) == as_bits(x)).all())
        (True, True)
    """
    return bits ^ ((bits >> 15) & 0x7FFF)


def matmul32(a: Any, b: Any) -> Any:
    """``a @ b``, with 16-bit inputs multiplied and accumulated in float32.

    The result is rounded back to the (common) storage dtype, as a 16-bit GEMM with a
    float32 accumulator does on a GPU; float32 and float64 inputs go straight to ``@``.
    """
    dtype = a.dtype if is_low_precision(a.dtype) else b.dtype
    if not is_low_precision(dtype):
        return a @ b
    return (to_compute(a) @ to_compute(b)).astype(dtype)


def sum32(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``a.sum(axis)``, accumulated in float32 for 16-bit ``a`` and rounded back once."""
    if not is_low_precision(a.dtype):
        return a.sum(axis=axis, keepdims=keepdims)
    return a.sum(axis=axis, keepdims=keepdims, dtype=FLOAT32).astype(a.dtype)


def mean32(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``a.mean(axis)``, accumulated in float32 for 16-bit ``a`` and rounded back once."""
    if not is_low_precision(a.dtype):
        return a.mean(axis=axis, keepdims=keepdims)
    return a.mean(axis=axis, keepdims=keepdims, dtype=FLOAT32).astype(a.dtype)


def finfo_max(dtype: Any) -> float:
    """The largest finite value of a floating dtype (bfloat16 included)."""
    dtype = numpy.dtype(dtype)
    if dtype.name == "bfloat16":
        import ml_dtypes  # noqa: PLC0415

        return float(ml_dtypes.finfo(dtype).max)
    return float(numpy.finfo(dtype).max)
