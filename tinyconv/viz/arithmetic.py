"""The conv-arithmetic figure: how input size, kernel, stride, padding and dilation set W_out.

Left, the padded input grid: the input cells (white), the zero padding around them (grey,
marked 0), the cells one output reads (orange, with dilation the taps have holes between
them) inside the window they span (bold outline), and the next window to the right (dashed),
one stride further. Right, the output grid with that output cell in orange. Below, the
formula with the numbers filled in:

    W_out = (W_in - F + 2P)/S + 1            F_eff = d*(F - 1) + 1 replaces F when d > 1

The size comes from ``tinyconv.functional.conv_output_size``, the function the conv layers
use, so the figure and the layers cannot disagree; a kernel that does not fit raises its
ValueError, with the formula and the numbers.
"""

from __future__ import annotations

from typing import Any

from ..ops.conv import conv_output_size
from ._figure import new_figure

MAX_CELLS = 48


def _check(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"conv arithmetic: {name} must be an integer >= {minimum}, got {value!r}")
    return value


def arithmetic_text(
    input_size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> str:
    """The size formula with the numbers filled in, ending in the output size (F_eff line first
    when dilated).

    Example:
        >>> arithmetic_text(28, 4, stride=2, padding=1)
        'W_out = (W_in - F + 2P)/S + 1 = (28 - 4 + 2*1)/2 + 1 = 14'
        >>> print(arithmetic_text(7, 3, stride=2, padding=0, dilation=2))
        F_eff = d*(F - 1) + 1 = 2*(3 - 1) + 1 = 5
        W_out = (W_in - F_eff + 2P)/S + 1 = (7 - 5 + 2*0)/2 + 1 = 2
        >>> arithmetic_text(6, 3, stride=2)
        'W_out = (W_in - F + 2P)/S + 1 = (6 - 3 + 2*0)/2 + 1 = floor(1.5) + 1 = 2'
    """
    out = conv_output_size(input_size, kernel_size, stride, padding, dilation, layer="conv")
    k_eff = dilation * (kernel_size - 1) + 1
    num = input_size - k_eff + 2 * padding
    if dilation == 1:
        text = f"W_out = (W_in - F + 2P)/S + 1 = ({input_size} - {kernel_size} + 2*{padding})/"
    else:
        text = (
            f"F_eff = d*(F - 1) + 1 = {dilation}*({kernel_size} - 1) + 1 = {k_eff}\n"
            f"W_out = (W_in - F_eff + 2P)/S + 1 = ({input_size} - {k_eff} + 2*{padding})/"
        )
    text += f"{stride} + 1"
    if num % stride:
        text += f" = floor({num / stride:g}) + 1"
    return f"{text} = {out}"


def plot_conv_arithmetic(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    output: tuple[int, int] | None = None,
) -> Any:
    """Draw the input grid, its padding, one output's receptive field and the output grid.

    Args:
        input_size (int): W_in (the input is W_in x W_in).
        kernel_size (int): F.
        stride (int): S. Default: 1.
        padding (int): P, zeros on each side. Default: 0.
        dilation (int): d, spacing between kernel taps. Default: 1.
        output ((int, int) | None): the output cell (row, column) whose receptive field is
            drawn. Default: (0, 0), the first window.

    Returns:
        matplotlib.figure.Figure with two axes: "input" (padded grid, one rectangle per cell)
        and "output" (one rectangle per output cell); the formula is the figure's title.

    Raises:
        ValueError: a non-integer or out-of-range argument, a kernel that does not fit in the
            padded input (the message shows the formula), an output cell outside the output,
            or a grid larger than 48 cells per side.

    Example:
        >>> fig = plot_conv_arithmetic(5, 3, stride=2, padding=1)
        >>> [ax.get_title() for ax in fig.axes]
        ['input 5x5, padding 1 (7x7)', 'output 3x3']
    """
    W = _check("input_size", input_size, 1)
    F = _check("kernel_size", kernel_size, 1)
    S = _check("stride", stride, 1)
    P = _check("padding", padding, 0)
    d = _check("dilation", dilation, 1)
    formula = arithmetic_text(W, F, S, P, d)  # raises the layers' ValueError when it cannot fit
    out = conv_output_size(W, F, S, P, d, layer="conv")
    side = W + 2 * P
    if side > MAX_CELLS:
        raise ValueError(
            f"conv arithmetic: the padded input is {side}x{side} cells, too many to "
            f"draw (at most {MAX_CELLS}); try a smaller input_size"
        )
    r0, c0 = output if output is not None else (0, 0)
    if not (0 <= r0 < out and 0 <= c0 < out):
        raise ValueError(
            f"conv arithmetic: output cell {(r0, c0)} is outside the {out}x{out} "
            f"output (rows and columns 0 to {out - 1})"
        )
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    k_eff = d * (F - 1) + 1
    cell = min(0.42, 5.5 / side)  # inches per cell
    height = side * cell + 2.3
    fig = new_figure(max(8.5, side * cell + out * cell + 2.4), height)
    gs = fig.add_gridspec(
        1,
        2,
        width_ratios=[side, max(out, 2)],
        wspace=0.25,
        left=0.05,
        right=0.97,
        top=1 - 1.1 / height,
        bottom=0.85 / height,
    )
    ax_in, ax_out = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
    small = side <= 20
    taps = {(r0 * S + d * i, c0 * S + d * j) for i in range(F) for j in range(F)}
    for r in range(side):
        for c in range(side):
            is_pad = not (P <= r < P + W and P <= c < P + W)
            color = "#f4a340" if (r, c) in taps else ("#d9d9d9" if is_pad else "white")
            ax_in.add_patch(
                Rectangle((c, r), 1, 1, facecolor=color, edgecolor="#808080", linewidth=0.6)
            )
            if is_pad and small:
                ax_in.text(
                    c + 0.5, r + 0.5, "0", ha="center", va="center", fontsize=7, color="#606060"
                )
    ax_in.add_patch(
        Rectangle((c0 * S, r0 * S), k_eff, k_eff, fill=False, edgecolor="#c0392b", linewidth=2.2)
    )
    if c0 + 1 < out:
        ax_in.add_patch(
            Rectangle(
                ((c0 + 1) * S, r0 * S),
                k_eff,
                k_eff,
                fill=False,
                edgecolor="#2e86c1",
                linewidth=1.6,
                linestyle="--",
            )
        )
    if P:
        ax_in.add_patch(Rectangle((P, P), W, W, fill=False, edgecolor="black", linewidth=1.6))
    for r in range(out):
        for c in range(out):
            color = "#f4a340" if (r, c) == (r0, c0) else "white"
            ax_out.add_patch(
                Rectangle((c, r), 1, 1, facecolor=color, edgecolor="#808080", linewidth=0.6)
            )
    for ax, n in ((ax_in, side), (ax_out, out)):
        ax.set_xlim(-0.05, max(n, 1) + 0.05)
        ax.set_ylim(max(n, 1) + 0.05, -0.05)  # row 0 at the top, like an image
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    pad_note = f", padding {P} ({side}x{side})" if P else ""
    ax_in.set_title(f"input {W}x{W}{pad_note}", fontsize=9)
    ax_out.set_title(f"output {out}x{out}", fontsize=9)
    hole = f", taps {d} apart (dilation {d})" if d > 1 else ""
    first, last = (r0 * S - P, c0 * S - P), (r0 * S - P + k_eff - 1, c0 * S - P + k_eff - 1)
    note = (
        f"orange: the cells output {(r0, c0)} reads{hole}; its window covers input rows "
        f"{first[0]}..{last[0]}, columns {first[1]}..{last[1]}"
        + (f" (outside 0..{W - 1}: padding)" if P else "")
    )
    if c0 + 1 < out:
        note += f"\ndashed: the window of output {(r0, c0 + 1)}, one stride ({S}) to the right"
    fig.text(0.5, 0.42 / height, note, ha="center", va="center", fontsize=8)
    fig.suptitle(f"W_in={W}, F={F}, S={S}, P={P}, d={d}\n{formula}", fontsize=10)
    return fig
