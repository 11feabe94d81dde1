"""Run tinyconv on PyTorch's own OpInfo samples and compare it with torch autograd.

PyTorch tests each of its operators on the inputs its ``OpInfo`` generates
(``torch.testing._internal.common_methods_invocations.op_db``): ``sample_inputs`` that must
work and ``error_inputs`` that must raise. This runner feeds the same inputs to the tinyconv
function that ``opinfo_table.OPS`` maps each OpInfo to and sorts every sample into

- ok: same output (shape, dtype, values within rtol 1e-4 / atol 1e-5 in float32, integer
  outputs such as pooling indices exactly) and the same gradient for every float input that
  requires one, under the same random upstream gradient;
- wrong: a different output or gradient, or an exception other than ValueError/TypeError
  (a crash is a bug, not a refusal);
- refused: tinyconv raised ValueError/TypeError where PyTorch returned a result; the
  reason is the message, so that refusals group by cause.

Each error input must make tinyconv raise ValueError or TypeError ("raised"); returning a
result ("accepted") or crashing otherwise ("crashed") is counted against it.

Run as a script for the report: ``python tests/opinfo_runner.py [--json PATH] [--md PATH]``.
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tinyconv

RTOL, ATOL = 1e-4, 1e-5
SEED = 0


@dataclass(frozen=True)
class Op:
    """How one OpInfo maps to tinyconv: the function and, where needed, a custom check.

    ``check(torch_out, tc_out, sample, leaves, standard)`` replaces the comparison for
    operations whose result is random (dropout); it returns None or what differs, and may
    call ``standard()``, the usual comparison, where the result is not random.
    """

    fn: Callable[..., Any]
    check: Callable[..., str | None] | None = None


@dataclass
class Report:
    """Counts and details of one run, per OpInfo and over all."""

    samples: Counter = field(default_factory=Counter)  # (key, status) -> count
    # (key, reason) -> [(sample, message)]: the reason is the message with numbers taken out
    refused: dict = field(default_factory=lambda: defaultdict(list))
    wrong: list = field(default_factory=list)  # (key, sample, what)
    errors: Counter = field(default_factory=Counter)  # (key, status) -> count
    error_details: list = field(default_factory=list)  # (key, sample, status, detail)

    def total(self, status: str) -> int:
        return sum(n for (_, s), n in self.samples.items() if s == status)

    def error_total(self, status: str) -> int:
        return sum(n for (_, s), n in self.errors.items() if s == status)

    def summary(self) -> dict[str, Any]:
        per_op: dict[str, dict[str, int]] = defaultdict(dict)
        for (key, status), n in sorted(self.samples.items()):
            per_op[key][status] = n
        for (key, status), n in sorted(self.errors.items()):
            per_op[key]["error_inputs_" + status] = n
        return {
            "samples": sum(self.samples.values()),
            "ok": self.total("ok"),
            "wrong": self.total("wrong"),
            "refused": self.total("refused"),
            "refused_by_reason": {
                f"{key}: {reason}": len(v) for (key, reason), v in sorted(self.refused.items())
            },
            "error_inputs": sum(self.errors.values()),
            "error_inputs_raised": self.error_total("raised"),
            "error_inputs_accepted": self.error_total("accepted"),
            "error_inputs_crashed": self.error_total("crashed"),
            "wrong_samples": [f"{k}: {s}: {w}" for k, s, w in self.wrong],
            "error_inputs_not_raised": [
                f"{k}: {s}: {st}: {d}" for k, s, st, d in self.error_details
            ],
            "per_op": dict(per_op),
        }


# ------------------------------------------------------------------ conversion
def _torch():
    import torch

    return torch


def describe(value: Any) -> str:
    """A short text of a sample argument: tensors as T(shape)dtype."""
    torch = _torch()
    if isinstance(value, torch.Tensor):
        grad = ",grad" if value.requires_grad else ""
        return f"T{tuple(value.shape)}{str(value.dtype).removeprefix('torch.')}{grad}"
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
        inner = ", ".join(describe(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def describe_sample(sample: Any) -> str:
    parts = [describe(sample.input)] + [describe(a) for a in sample.args]
    parts += [f"{k}={describe(v)}" for k, v in sample.kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def to_tinyconv(value: Any, leaves: list) -> Any:
    """torch values -> tinyconv ones: tensors (copied, same dtype and memory layout), dtypes, sizes.

    Tensors that require a gradient are appended to ``leaves`` as (torch, tinyconv) pairs.
    """
    torch = _torch()
    if isinstance(value, torch.Tensor):
        array = np.array(value.detach().numpy(), copy=True, order="K")  # strides kept
        t = tinyconv.Tensor(array, requires_grad=value.requires_grad)
        if value.requires_grad:
            leaves.append((value, t))
        return t
    if isinstance(value, torch.dtype):
        return torch.empty((), dtype=value).numpy().dtype
    if isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, list):
        return [to_tinyconv(v, leaves) for v in value]
    if isinstance(value, tuple):
        return tuple(to_tinyconv(v, leaves) for v in value)
    if isinstance(value, dict):
        return {k: to_tinyconv(v, leaves) for k, v in value.items()}
    return value


def _outputs(value: Any) -> list:
    """The tensors of a result (one tensor, or a tuple such as (values, indices))."""
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _as_numpy(t: Any) -> np.ndarray:
    torch = _torch()
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    if isinstance(t, tinyconv.Tensor):
        return t.numpy()
    return np.asarray(t)


def compare(name: str, got: Any, want: Any) -> str | None:
    """None when got (tinyconv) matches want (torch), else what differs."""
    a, b = _as_numpy(got), _as_numpy(want)
    if a.shape != b.shape:
        return f"{name}: shape {a.shape} vs torch {b.shape}"
    if a.dtype != b.dtype and not (a.dtype.kind == b.dtype.kind == "i"):
        return f"{name}: dtype {a.dtype} vs torch {b.dtype}"
    if b.dtype.kind in "iub":
        if not np.array_equal(a, b):
            return f"{name}: {int((a != b).sum())} of {a.size} values differ"
        return None
    if not np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True):
        with np.errstate(invalid="ignore"):
            err = np.nanmax(np.abs(a.astype(np.float64) - b)) if a.size else 0.0
        return f"{name}: max abs difference {err:.3g} (rtol {RTOL}, atol {ATOL})"
    return None


# ------------------------------------------------------------------ one sample
def _differentiable(out: Any) -> bool:
    torch = _torch()
    return isinstance(out, torch.Tensor) and out.requires_grad and out.dtype.is_floating_point


def run_sample(op_info: Any, op: Op, sample: Any, rng: np.random.Generator) -> tuple[str, str]:
    """(status, detail) of one sample: ("ok", ""), ("wrong", what), ("refused", message)."""
    want = op_info.op(sample.input, *sample.args, **sample.kwargs)
    leaves: list = []
    tc_in = to_tinyconv(sample.input, leaves)
    tc_args = to_tinyconv(sample.args, leaves)
    tc_kwargs = to_tinyconv(sample.kwargs, leaves)
    try:
        got = op.fn(tc_in, *tc_args, **tc_kwargs)
    except (ValueError, TypeError) as e:
        return "refused", str(e)
    except Exception as e:  # a crash inside tinyconv is a bug
        return "wrong", f"crashed: {type(e).__name__}: {e}"
    if op.check is not None:
        return _verdict(op.check(want, got, sample, leaves, lambda: _match(want, got, leaves, rng)))
    return _verdict(_match(want, got, leaves, rng))


def _verdict(problem: str | None) -> tuple[str, str]:
    return ("wrong", problem) if problem else ("ok", "")


def _match(want: Any, got: Any, leaves: list, rng: np.random.Generator) -> str | None:
    """None when the outputs and the gradients of every leaf match torch's, else what differs."""
    torch = _torch()
    wants, gots = _outputs(want), _outputs(got)
    if len(wants) != len(gots):
        return f"{len(gots)} outputs vs torch {len(wants)}"
    for i, (g, w) in enumerate(zip(gots, wants, strict=True)):
        problem = compare(f"output {i}", g, w)
        if problem:
            return problem
    # gradients: the same random upstream gradient on every float output that has one
    pairs = [(g, w) for g, w in zip(gots, wants, strict=True) if _differentiable(w)]
    if not pairs or not leaves:
        return None
    ups = [rng.standard_normal(w.shape).astype(_as_numpy(w).dtype) for _, w in pairs]
    grads = torch.autograd.grad(
        [w for _, w in pairs], [t for t, _ in leaves], [torch.from_numpy(u) for u in ups],
        allow_unused=True,
    )  # fmt: skip
    problem = backward([g for g, _ in pairs], ups)
    if problem:
        return problem
    for k, ((t_leaf, leaf), gt) in enumerate(zip(leaves, grads, strict=True)):
        want_g = np.zeros(t_leaf.shape, np.float32) if gt is None else gt.numpy()
        got_g = np.zeros(leaf.shape, leaf.dtype) if leaf.grad is None else leaf.grad.numpy()
        problem = compare(f"gradient of differentiable input {k}", got_g, want_g)
        if problem:
            return problem
    return None


def backward(outputs: list, upstream: list) -> str | None:
    """Backpropagate sum(output * upstream) over tinyconv outputs; None, or what went wrong."""
    total = None
    for g, u in zip(outputs, upstream, strict=True):
        if not isinstance(g, tinyconv.Tensor) or not g.requires_grad:
            return "tinyconv's output does not require a gradient"
        term = (g * tinyconv.Tensor(u)).sum()
        total = term if total is None else total + term
    try:
        total.backward()
    except Exception as e:
        return f"backward crashed: {type(e).__name__}: {e}"
    return None


def run_error_input(op: Op, error_input: Any) -> tuple[str, str]:
    """("raised", message), ("accepted", "") or ("crashed", what)."""
    sample = error_input.sample_input
    leaves: list = []
    try:
        got = op.fn(
            to_tinyconv(sample.input, leaves),
            *to_tinyconv(sample.args, leaves),
            **to_tinyconv(sample.kwargs, leaves),
        )
    except (ValueError, TypeError) as e:
        return "raised", str(e)
    except Exception as e:
        return "crashed", f"{type(e).__name__}: {e}"
    return "accepted", describe(got) if not isinstance(got, tinyconv.Tensor) else str(got.shape)


# ------------------------------------------------------------------ the run
def op_infos(table: dict[str, Op]) -> Iterator[tuple[str, Any, Op]]:
    """(key, OpInfo, Op) for every entry of the table; KeyError for a key op_db lacks."""
    from torch.testing._internal.common_methods_invocations import op_db

    by_key = {(o.name + "." + o.variant_test_name).rstrip("."): o for o in op_db}
    for key, op in table.items():
        if key not in by_key:
            raise KeyError(f"{key!r} is not an OpInfo of this torch (op_db)")
        yield key, by_key[key], op


def _reason(message: str) -> str:
    """The message with numbers and shapes taken out, so that refusals group by cause."""
    text = message.split("\n")[0]
    text = re.sub(r"\(\s*[-\d, ]*\)|\[[-\d, ]*\]", "(..)", text)
    text = re.sub(r"-?\d+(\.\d+)?", "#", text)
    return text[:160]


def run(table: dict[str, Op], keys: list[str] | None = None) -> Report:
    """Every sample and error input of the OpInfos in ``table`` (or of ``keys`` only)."""
    torch = _torch()
    report = Report()
    rng = np.random.default_rng(SEED)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: torch's thread pool only costs time here
    try:
        with warnings.catch_warnings():
            _run_all(table, keys, report, rng)
    finally:
        torch.set_num_threads(threads)
    return report


def _run_all(table: dict[str, Op], keys: list[str] | None, report: Report, rng: Any) -> None:
    torch = _torch()
    warnings.simplefilter("ignore")
    for key, op_info, op in op_infos(table):
        if keys is not None and key not in keys:
            continue
        torch.manual_seed(SEED)
        for sample in op_info.sample_inputs("cpu", torch.float32, requires_grad=True):
            status, detail = run_sample(op_info, op, sample, rng)
            report.samples[(key, status)] += 1
            if status == "refused":
                report.refused[(key, _reason(detail))].append((describe_sample(sample), detail))
            elif status == "wrong":
                report.wrong.append((key, describe_sample(sample), detail))
        if op_info.error_inputs_func is None:
            continue
        for error_input in op_info.error_inputs("cpu"):
            status, detail = run_error_input(op, error_input)
            report.errors[(key, status)] += 1
            if status != "raised":
                sample = describe_sample(error_input.sample_input)
                report.error_details.append((key, sample, status, detail))


def markdown(summary: dict[str, Any]) -> str:
    """The report as a markdown table, one row per OpInfo."""
    lines = [
        f"samples {summary['samples']}: ok {summary['ok']}, wrong {summary['wrong']}, "
        f"refused {summary['refused']}; error inputs {summary['error_inputs']}: raised "
        f"{summary['error_inputs_raised']}, accepted {summary['error_inputs_accepted']}, "
        f"crashed {summary['error_inputs_crashed']}",
        "",
        "| OpInfo | ok | wrong | refused | error inputs raised | not raised |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, c in summary["per_op"].items():
        not_raised = c.get("error_inputs_accepted", 0) + c.get("error_inputs_crashed", 0)
        lines.append(
            f"| {key} | {c.get('ok', 0)} | {c.get('wrong', 0)} | {c.get('refused', 0)} | "
            f"{c.get('error_inputs_raised', 0)} | {not_raised} |"
        )
    if summary["refused_by_reason"]:
        lines += ["", "Refused, by reason:", ""]
        lines += [f"- {r}: {n}" for r, n in summary["refused_by_reason"].items()]
    for title, items in (
        ("Wrong", summary["wrong_samples"]),
        ("Error inputs that did not raise", summary["error_inputs_not_raised"]),
    ):
        if items:
            lines += ["", f"{title}:", ""] + [f"- {s}" for s in items]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    import argparse

    from opinfo_table import OPS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("keys", nargs="*", help="OpInfo keys to run (default: the whole table)")
    parser.add_argument("--json", help="write the summary as JSON to this file")
    parser.add_argument("--md", help="write the summary as markdown to this file")
    args = parser.parse_args(argv)
    summary = run(OPS, args.keys or None).summary()
    text = markdown(summary)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
