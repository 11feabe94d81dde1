"""The ``tinyconv viz`` subcommands: each draws one picture and writes it as a PNG.

    tinyconv viz filters runs/<run>/model.safetensors                 # conv1's filters
    tinyconv viz filters --compare simple_convnet runs/<run>/model.safetensors
    tinyconv viz features runs/<run>/model.safetensors --index 0 --relu
    tinyconv viz kernels                                              # on a synthetic picture
    tinyconv viz curves runs/<run>
    tinyconv viz confusion runs/<run>/model.safetensors
    tinyconv viz mistakes runs/<run>/model.safetensors
    tinyconv viz saliency runs/<run>/model.safetensors --index 3 --class 5
    tinyconv viz arithmetic --input-size 5 --kernel 3 --stride 2 --padding 1

A MODEL is a ``.safetensors`` model file, a run or checkpoint folder holding
``model.safetensors``, or a model name (``simple_convnet``): a fresh model with random
weights from ``--seed``; with the seed of a ``tinyconv train`` run (default 0) these are
exactly the weights that run started from. Building the parser imports nothing heavy;
matplotlib is imported only when a picture is drawn.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy

PICTURES = (
    "filters",
    "features",
    "kernels",
    "curves",
    "confusion",
    "mistakes",
    "saliency",
    "arithmetic",
)


# ------------------------------------------------------------------------ argument types
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _int_list(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.replace(",", " ").split()]
    except ValueError:
        values = []
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected class numbers such as 3 or 3,5, got {text!r}")
    return values


def _pair(text: str) -> tuple[int, int]:
    try:
        r, c = (int(t) for t in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ROW,COL such as 0,1, got {text!r}") from None
    return r, c


def _shape(text: str) -> tuple[int, int, int]:
    try:
        dims = tuple(int(t) for t in text.replace("x", ",").split(",") if t.strip())
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected C,H,W such as 1,28,28, got {text!r}")
    return dims  # type: ignore[return-value]


# --------------------------------------------------------------------------- the parser
def add_viz_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``viz`` and its picture subcommands to the ``tinyconv`` command's subparsers."""
    v = subparsers.add_parser(
        "viz",
        help="pictures of what a network learned (filters, feature maps, curves, ...) as PNG",
        description="Draw a picture and write it as a PNG (needs matplotlib: "
        "pip install 'tinyconv[viz]'). A MODEL is a .safetensors file, a run folder, or a "
        "model name for random weights (--seed).",
    )
    v.set_defaults(func=_no_picture)
    sub = v.add_subparsers(dest="picture", metavar="PICTURE")

    def picture(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=description)
        p.add_argument("-o", "--out", default=f"{name}.png", help=f"PNG file ({name}.png)")
        p.add_argument("--dpi", type=_positive_int, default=100, help="resolution (100)")
        p.set_defaults(func=globals()[f"cmd_{name}"])
        return p

    def model_args(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument(
            "model",
            metavar="MODEL",
            nargs=None if required else "?",
            help="a .safetensors model, a run folder, or a model name (random weights)",
        )
        p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of random weights (0)")
        p.add_argument("--input-shape", type=_shape, help="C,H,W when the model does not say")

    def image_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--image", metavar="PATH", help="a PNG/JPEG image (default: a test image)")
        p.add_argument(
            "--index", type=_nonneg_int, default=0, help="which test image of --data (0)"
        )
        p.add_argument(
            "--data",
            help="dataset or image folder (default: the model's, else "
            "mnist or the embedded sample)",
        )

    p = picture(
        "filters",
        "a grid of a conv layer's filters (or two checkpoints side by side)",
        "Draw a conv layer's filters as small pictures: grey for one input channel, RGB "
        "for three, each scaled to its own min-max. The title gives the mean neighbour "
        "correlation (near 0 for random filters, higher for smooth ones).",
    )
    model_args(p, required=False)
    p.add_argument("--layer", help="conv layer: dotted name or index (default: the first)")
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="two models (files, run folders or names) side by side",
    )
    p.add_argument("--max-filters", type=_positive_int, default=64, help="at most N (64)")
    p.add_argument(
        "--channel",
        type=_nonneg_int,
        default=0,
        help="input channel drawn when there are neither 1 nor 3 (0)",
    )

    p = picture(
        "features",
        "feature maps of every conv/pool layer for one image",
        "Run one image through the model and draw the output of every conv and "
        "pooling layer, one row per layer, each map to scale.",
    )
    model_args(p)
    image_args(p)
    p.add_argument("--relu", action="store_true", help="also draw the maps after each ReLU")
    p.add_argument("--layers", help="only these layers, comma-separated names")
    p.add_argument("--max-maps", type=_positive_int, default=64, help="maps per layer (64)")

    p = picture(
        "kernels",
        "hand-made kernels (edge, sharpen, blur, diagonal) on an image",
        "Convolve an image with hand-made 3x3 kernels and show each activation map, "
        "after ReLU, and after 2x2 max pooling. Default image: a synthetic picture of "
        "shapes; --data/--index picks a dataset image instead.",
    )
    p.add_argument("--image", metavar="PATH", help="a PNG/JPEG image (made grey)")
    p.add_argument("--data", help="take image --index of this dataset's test split")
    p.add_argument("--index", type=_nonneg_int, default=0, help="with --data (0)")
    p.add_argument(
        "--kernels",
        help="comma-separated names (default: all): edge, vertical edge, "
        "sharpen, blur, diagonal, diagonal zero-mean",
    )
    p.add_argument(
        "--kernel",
        action="append",
        metavar="ROWS",
        help="your own kernel, rows split by ';' e.g. '1,0,-1; 2,0,-2; 1,0,-1' (repeatable)",
    )
    p.add_argument("--padding", type=_nonneg_int, default=1, help="zero padding (1)")
    p.add_argument("--pool", type=_positive_int, default=2, help="max-pool window (2)")
    p.add_argument(
        "--size",
        type=_positive_int,
        default=64,
        help="side of the synthetic picture or of --image (64)",
    )

    p = picture(
        "curves",
        "loss and accuracy per epoch from a run's history",
        "Plot training and validation loss and accuracy per epoch.",
    )
    p.add_argument("history", metavar="RUN", help="a run folder, history.json or history.csv")
    p.add_argument("--title", help="figure title")

    p = picture(
        "confusion",
        "the confusion matrix on a test set",
        "Evaluate the model on the test split and draw its confusion matrix "
        "(rows: true class, columns: predicted class).",
    )
    model_args(p)
    p.add_argument("--data", help="dataset or image folder (default: the model's)")
    p.add_argument("--limit", type=_positive_int, help="use at most N test images")
    p.add_argument("--batch-size", type=_positive_int, default=500, help="(500)")

    p = picture(
        "mistakes",
        "a grid of misclassified test images",
        "Show the test images the model gets wrong, most confident mistakes first, "
        "with true and predicted labels and the predicted probability.",
    )
    model_args(p)
    p.add_argument("--data", help="dataset or image folder (default: the model's)")
    p.add_argument("--limit", type=_positive_int, help="use at most N test images")
    p.add_argument("--max-images", type=_positive_int, default=25, help="tiles (25)")
    p.add_argument("--batch-size", type=_positive_int, default=500, help="(500)")

    p = picture(
        "saliency",
        "Grad-CAM: where the network looks for a class",
        "Grad-CAM (Selvaraju et al. 2017) of a class for one image: the last conv "
        "layer's maps weighted by the class score's mean gradient, ReLU, resized.",
    )
    model_args(p)
    image_args(p)
    p.add_argument(
        "--class",
        dest="classes",
        type=_int_list,
        help="class number(s), e.g. 3 or 3,5 (default: the predicted class)",
    )
    p.add_argument("--layer", help="layer name or conv index (default: the last conv layer)")

    p = picture(
        "arithmetic",
        "conv arithmetic: input, padding, receptive field, output",
        "Draw the padded input grid, the receptive field of one output and the output "
        "grid, with W_out = (W_in - F + 2P)/S + 1 and the numbers.",
    )
    p.add_argument("--input-size", type=_positive_int, default=5, help="W_in (5)")
    p.add_argument("--kernel", type=_positive_int, default=3, help="F (3)")
    p.add_argument("--stride", type=_positive_int, default=1, help="S (1)")
    p.add_argument("--padding", type=_nonneg_int, default=0, help="P (0)")
    p.add_argument("--dilation", type=_positive_int, default=1, help="d (1)")
    p.add_argument(
        "--output",
        type=_pair,
        metavar="ROW,COL",
        help="the output cell whose receptive field is drawn (0,0)",
    )
    return v


def _no_picture(args: argparse.Namespace) -> int:
    raise ValueError(f"choose a picture: {', '.join(PICTURES)} (see tinyconv viz --help)")


# ----------------------------------------------------------------------------- helpers
def _load_model(spec: str, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """A model and its metadata from a file, a run/checkpoint folder, or a model name."""
    from .. import io, manual_seed, models  # noqa: PLC0415  (models registers the zoo classes)

    path = Path(spec)
    if path.is_dir():
        if not (path / "model.safetensors").is_file():
            raise FileNotFoundError(f"no model.safetensors in folder {spec}")
        path = path / "model.safetensors"
    if path.is_file() and path.suffix.lower() == ".onnx":
        from ..onnx.files import load_model_file  # noqa: PLC0415

        return load_model_file(path)
    if path.is_file():
        model = io.load(path)
        if not hasattr(model, "forward"):
            raise ValueError(
                f"{spec} holds weights only (a state dict), not a model with its architecture"
            )
        return model, io.read_metadata(path)
    if spec.endswith(".safetensors") or os.sep in spec:
        raise FileNotFoundError(f"model file not found: {spec}")
    manual_seed(seed)
    return models.get(spec), {"random_weights": True, "seed": seed}


def _input_shape(model: Any, meta: dict[str, Any], given: Any) -> tuple[int, int, int]:
    shape = given or meta.get("input_shape") or getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("the model does not say its input shape: pass --input-shape C,H,W")
    return tuple(int(s) for s in shape)  # type: ignore[return-value]


def _dataset(
    args: argparse.Namespace,
    meta: dict[str, Any],
    shape: tuple[int, int, int],
    limit: int | None = None,
) -> dict[str, Any]:
    """Test images, classes and normalisation of --data (default: the model's dataset)."""
    from .. import data  # noqa: PLC0415

    C, H, W = shape
    name = getattr(args, "data", None) or meta.get("dataset") or data.default_dataset()
    if os.path.isdir(name):  # its held-out images if the model was trained on it, else all
        ds = data.split.folder_test_set(name, meta, shape)
    else:
        mean, std = data.normalization(name)
        ds = {
            "test": data.load(name, "test"),
            "classes": data.classes(name),
            "name": name,
            "mean": mean,
            "std": std,
        }
    if limit is not None:
        ds["test"] = tuple(a[:limit] for a in ds["test"])
    x, _ = ds["test"]
    if tuple(x.shape[1:]) != (C, H, W):
        raise ValueError(
            f"{name} images are {tuple(x.shape[1:])} but the model expects "
            f"{(C, H, W)} (choose another --data)"
        )
    ds["mean"] = meta.get("mean", ds["mean"])
    ds["std"] = meta.get("std", ds["std"])
    ds["classes"] = meta.get("classes") or ds["classes"]
    return ds


def _one_image(args: argparse.Namespace, model: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """The raw image (C, H, W) uint8, the normalised model input and the class names."""
    from ..data import images  # noqa: PLC0415
    from ..data.loader import DataLoader  # noqa: PLC0415

    shape = _input_shape(model, meta, args.input_shape)
    C, H, W = shape
    label = None
    if args.image:
        if not os.path.isfile(args.image):
            raise FileNotFoundError(f"image file not found: {args.image}")
        invert = meta.get("invert", "auto") if C == 1 else False
        recipe = images.resolve_recipe(meta)  # the same image path as predict and serve
        seen, _ = images.prepare(images.decode(args.image), shape, recipe, invert)
        raw = numpy.clip(numpy.rint(seen), 0, 255).astype(numpy.uint8)
        ds = _dataset(args, meta, shape, limit=1)
        what = args.image
    else:
        ds = _dataset(args, meta, shape)
        x, y = ds["test"]
        if args.index >= len(x):
            raise ValueError(
                f"--index {args.index} is out of range: the test split has {len(x)} images"
            )
        raw, label = x[args.index], int(y[args.index])
        what = f"{ds['name']} test image {args.index}"
    loader = DataLoader(
        raw[None], numpy.zeros(1, dtype=numpy.int64), batch_size=1, mean=ds["mean"], std=ds["std"]
    )
    xin = next(iter(loader))[0][0]  # (C, H, W) float32, normalised
    return {"raw": raw, "x": xin, "label": label, "classes": ds["classes"], "what": what}


def _save(fig: Any, args: argparse.Namespace, summary: str) -> int:
    from ._figure import save_png  # noqa: PLC0415

    path = save_png(fig, args.out, dpi=args.dpi)
    print(f"Saved {path}: {summary}")
    return 0


def _model_label(spec: str, meta: dict[str, Any]) -> str:
    return f"{spec} (random weights, seed {meta['seed']})" if meta.get("random_weights") else spec


# ---------------------------------------------------------------------------- handlers
def cmd_filters(args: argparse.Namespace) -> int:
    from ._figure import require_matplotlib  # noqa: PLC0415
    from .filters import plot_filter_comparison, plot_filters  # noqa: PLC0415

    require_matplotlib()
    if args.compare:
        if args.model:
            raise ValueError("give either MODEL or --compare BEFORE AFTER, not both")
        (m0, meta0), (m1, meta1) = (_load_model(s, args.seed) for s in args.compare)
        labels = (_model_label(args.compare[0], meta0), _model_label(args.compare[1], meta1))
        fig = plot_filter_comparison(
            m0, m1, args.layer, labels=labels, max_filters=args.max_filters, channel=args.channel
        )
        return _save(fig, args, f"filters of {labels[0]} and {labels[1]}")
    if not args.model:
        raise ValueError("give a MODEL, or --compare BEFORE AFTER")
    model, _ = _load_model(args.model, args.seed)
    fig = plot_filters(model, args.layer, max_filters=args.max_filters, channel=args.channel)
    return _save(fig, args, f"{len(fig.axes)} filters of {args.model}")


def cmd_features(args: argparse.Namespace) -> int:
    from ._figure import require_matplotlib  # noqa: PLC0415
    from .features import plot_feature_maps  # noqa: PLC0415

    require_matplotlib()
    model, meta = _load_model(args.model, args.seed)
    img = _one_image(args, model, meta)
    layers = [t.strip() for t in args.layers.split(",") if t.strip()] if args.layers else None
    fig = plot_feature_maps(
        model,
        img["x"],
        activations=args.relu,
        layers=layers,
        max_maps=args.max_maps,
        input_image=img["raw"],
        title=f"Feature maps of {type(model).__name__} for {img['what']}",
    )
    return _save(fig, args, f"{len(fig.axes) - 1} feature maps of {img['what']}")


def cmd_kernels(args: argparse.Namespace) -> int:
    from ._figure import require_matplotlib  # noqa: PLC0415
    from .kernels import KERNELS, parse_kernel, plot_kernels, shapes_image  # noqa: PLC0415

    require_matplotlib()
    if args.image:
        from ..data import load_image  # noqa: PLC0415

        if not os.path.isfile(args.image):
            raise FileNotFoundError(f"image file not found: {args.image}")
        image, what = load_image(args.image, size=args.size, channels=1), args.image
    elif args.data:
        from .. import data  # noqa: PLC0415

        x, _ = data.load(args.data, "test")
        if args.index >= len(x):
            raise ValueError(
                f"--index {args.index} is out of range: {args.data} test has {len(x)} images"
            )
        image, what = x[args.index], f"{args.data} test image {args.index}"
    else:
        image, what = shapes_image(args.size), "synthetic shapes"
    chosen: dict[str, Any] = {}
    if args.kernels:
        for name in (t.strip() for t in args.kernels.split(",") if t.strip()):
            if name not in KERNELS:
                raise ValueError(f"unknown kernel {name!r}; known kernels: {', '.join(KERNELS)}")
            chosen[name] = KERNELS[name]
    for i, text in enumerate(args.kernel or []):
        chosen[f"kernel {i + 1}"] = parse_kernel(text)
    fig = plot_kernels(image, chosen or None, padding=args.padding, pool=args.pool)
    n = (len(fig.axes) - 1) // 4
    return _save(fig, args, f"{n} kernels applied to {what}")


def cmd_curves(args: argparse.Namespace) -> int:
    from ._figure import require_matplotlib  # noqa: PLC0415
    from .curves import load_history, plot_curves  # noqa: PLC0415

    require_matplotlib()
    history = load_history(args.history)
    fig = plot_curves(history, title=args.title)
    return _save(fig, args, f"loss and accuracy of {history.epochs} epoch(s)")


def cmd_confusion(args: argparse.Namespace) -> int:
    from ..data.loader import DataLoader  # noqa: PLC0415
    from ..train import evaluate  # noqa: PLC0415
    from ._figure import require_matplotlib  # noqa: PLC0415
    from .confusion import plot_confusion  # noqa: PLC0415

    require_matplotlib()
    model, meta = _load_model(args.model, args.seed)
    ds = _dataset(args, meta, _input_shape(model, meta, args.input_shape), args.limit)
    x, y = ds["test"]
    loader = DataLoader(x, y, batch_size=args.batch_size, mean=ds["mean"], std=ds["std"])
    res = evaluate(model, loader)
    classes = list(ds["classes"])
    cm = res["confusion_matrix"]
    names = classes if len(classes) == len(cm) else None
    fig = plot_confusion(cm, names)
    return _save(
        fig,
        args,
        f"accuracy {100 * res['accuracy']:.2f}% on {res['num_samples']} {ds['name']} test images",
    )


def cmd_mistakes(args: argparse.Namespace) -> int:
    from ._figure import require_matplotlib  # noqa: PLC0415
    from .confusion import find_mistakes, plot_mistakes  # noqa: PLC0415

    require_matplotlib()
    model, meta = _load_model(args.model, args.seed)
    ds = _dataset(args, meta, _input_shape(model, meta, args.input_shape), args.limit)
    x, y = ds["test"]
    found = find_mistakes(model, x, y, ds["mean"], ds["std"], args.batch_size)
    fig = plot_mistakes(x, found, ds["classes"], max_images=args.max_images)
    return _save(
        fig, args, f"{len(found['index'])} mistakes among {len(x)} {ds['name']} test images"
    )


def cmd_saliency(args: argparse.Namespace) -> int:
    from ._figure import require_matplotlib  # noqa: PLC0415
    from .saliency import plot_grad_cam  # noqa: PLC0415

    require_matplotlib()
    model, meta = _load_model(args.model, args.seed)
    img = _one_image(args, model, meta)
    fig = plot_grad_cam(model, img["x"], args.classes, args.layer, img["classes"], image=img["raw"])
    truth = "" if img["label"] is None else f" (true class {img['classes'][img['label']]})"
    return _save(fig, args, f"Grad-CAM of {img['what']}{truth}")


def cmd_arithmetic(args: argparse.Namespace) -> int:
    from ._figure import require_matplotlib  # noqa: PLC0415
    from .arithmetic import arithmetic_text, plot_conv_arithmetic  # noqa: PLC0415

    require_matplotlib()
    fig = plot_conv_arithmetic(
        args.input_size, args.kernel, args.stride, args.padding, args.dilation, args.output
    )
    text = arithmetic_text(args.input_size, args.kernel, args.stride, args.padding, args.dilation)
    return _save(fig, args, text)
