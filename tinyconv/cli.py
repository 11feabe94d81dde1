"""The ``tinyconv`` command: train, evaluate, predict and summary.

    tinyconv train                                   # a small CNN on MNIST (or the embedded sample)
    tinyconv train --model deep_convnet --data mnist --epochs 5 --lr 0.001
    tinyconv train --resume runs/simple_convnet-mnist-20250101-120000
    tinyconv evaluate runs/<run>/model.safetensors
    tinyconv predict runs/<run>/model.safetensors digit.png --top-k 3
    tinyconv summary cifar10_cnn --input-shape 3,32,32

A user mistake (a missing file, an unknown model or dataset, a bad number) prints one line
on stderr and exits with status 2; a diverged training run exits with 3; Ctrl-C with 130.
Set ``TINYCONV_DEBUG=1`` to see the full traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, NoReturn

import numpy

from .errors import naming_file

# Default epochs of `tinyconv train`, chosen so that a run takes about two minutes or less
# on 2 CPU cores with the default model (SimpleConvNet, batch 100). Measured on a shared,
# busy 2-core machine: full MNIST, 1 epoch: 2 min 18 s wall (87 s of CPU), 97.2 % test
# accuracy; the 5,000-image sample, 6 epochs: 58 s wall (34 s of CPU), 95.4 %.
DEFAULT_EPOCHS = {"mnist": 1, "fashion-mnist": 1, "mnist-sample": 6}
DEFAULT_MODEL = "simple_convnet"


class UserError(Exception):
    """A mistake in the command line or its files: reported in one line, no traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------------ argument types
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(t) for t in text.replace("x", ",").split(",") if t.strip())
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected C,H,W such as 1,28,28, got {text!r}")
    problem = _shape_problem(dims)
    if problem:
        raise argparse.ArgumentTypeError(f"{text}: {problem}")
    return dims


MAX_SIDE, MAX_CHANNELS = 4096, 64


def _shape_problem(dims: tuple[int, ...]) -> str:
    """Why an input shape C,H,W is refused ("" when it is fine): a 15000x15000 image would
    need gigabytes for its first feature maps."""
    C, H, W = dims
    if C > MAX_CHANNELS or max(H, W) > MAX_SIDE:
        return (
            f"images of at most {MAX_CHANNELS} channels and {MAX_SIDE}x{MAX_SIDE} pixels, "
            f"got {C} channels of {H}x{W}"
        )
    return ""


# --------------------------------------------------------------------------- the parser
INFERENCE = ("fp32", "fp16", "bf16")
INFERENCE_HELP = "weights and activations in float32 (default), float16 or bfloat16"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="tinyconv",
        description="Train, evaluate and use convolutional networks written from scratch in NumPy.",
    )
    p.add_argument("--version", action="version", version=f"tinyconv {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train a model and save it with its history and training curves",
        description="Train a model. With no arguments: SimpleConvNet on full MNIST when it is in "
        "the data directory ($TINYCONV_DATA), else on the embedded MNIST sample; it takes about "
        "two minutes or less on 2 CPU cores. Writes runs/<name>/model.safetensors, history.json, "
        "history.csv, curves.png and checkpoints/.",
    )
    t.add_argument(
        "--model",
        help=f"model name (default {DEFAULT_MODEL}), or a .safetensors model file to start from",
    )
    t.add_argument(
        "--data",
        help="dataset: mnist, fashion-mnist, cifar10, mnist-sample, or a folder of class "
        "subfolders of images (default: mnist if present, else mnist-sample)",
    )
    t.add_argument(
        "--epochs", type=_positive_int, metavar="N", help="epochs (default: chosen per dataset)"
    )
    t.add_argument("--batch-size", type=_positive_int, metavar="N", help="batch size (default 100)")
    t.add_argument("--lr", type=_positive_float, help="learning rate (default 0.001)")
    t.add_argument("--optimizer", help="adam (default), sgd, rmsprop, adamw, adagrad")
    t.add_argument("--seed", type=_nonneg_int, metavar="N", help="random seed (default 0)")
    t.add_argument(
        "--out", metavar="DIR", help="output folder (default runs/<model>-<data>-<timestamp>/)"
    )
    t.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run in RUN_DIR")
    t.add_argument(
        "--limit", type=_positive_int, metavar="N", help="use at most N train and N test images"
    )
    t.add_argument(
        "--val",
        type=_nonneg_int,
        metavar="N",
        help="validation images held out of the training images, measured after every epoch "
        "(default: 10%%, at most 5000; 0: none); the test split is read once, at the end",
    )
    t.add_argument(
        "--augment",
        action="store_true",
        help="random shifts (crop with padding H/8) and, for RGB images, flips",
    )
    t.add_argument(
        "--image-size", type=_positive_int, metavar="N", help="image size for a folder dataset (28)"
    )
    t.add_argument("--channels", type=int, choices=(1, 3), help="1 grey or 3 RGB (folder data)")
    t.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="(default cpu)")
    t.add_argument(
        "--precision",
        choices=("fp32", "fp16-mixed", "bf16-mixed"),
        help="fp32 (default), or mixed precision: 16-bit forward/backward with float32 master "
        "weights (fp16 with loss scaling)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    t.add_argument(
        "--serve",
        nargs="?",
        const="127.0.0.1:8000",
        metavar="[HOST:]PORT",
        help="watch the training live in the browser, then play with the model (127.0.0.1:8000)",
    )
    from .distributed.cli import add_train_flags  # noqa: PLC0415  (no MPI until it is used)

    add_train_flags(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser(
        "evaluate",
        help="loss, accuracy, per-class accuracy and confusion matrix on a test set",
        description="Evaluate a saved model on the test split of a dataset.",
    )
    e.add_argument("model_file", metavar="MODEL_FILE", help="a .safetensors or .onnx model file")
    e.add_argument("--data", help="dataset or image folder (default: the one it was trained on)")
    e.add_argument("--batch-size", type=_positive_int, default=500, help="batch size (500)")
    e.add_argument("--limit", type=_positive_int, help="use at most N test images")
    e.add_argument("--precision", choices=INFERENCE, default="fp32", help=INFERENCE_HELP)
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser(
        "predict",
        help="classify image files (PNG/JPEG)",
        description="Print the top-k classes of each image with their probabilities. Images are "
        "converted to what the model expects (grey or RGB, resized); for a grey model a dark "
        "digit on a light background is inverted to MNIST's white on black (--invert auto).",
    )
    r.add_argument("model_file", metavar="MODEL_FILE", help="a .safetensors or .onnx model file")
    r.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    r.add_argument("--top-k", type=_positive_int, default=3, help="classes to show (3)")
    r.add_argument(
        "--invert", choices=("auto", "yes", "no"), default="auto", help="(auto: the model's)"
    )
    r.add_argument(
        "--preprocess",
        choices=("auto", "mnist", "resize"),
        default="auto",
        help="mnist: crop to the ink, fit 20x20, centre (MNIST's recipe); resize: the whole "
        "image; auto (default): the recipe the model was trained with",
    )
    r.add_argument("--show-input", metavar="OUT.png", help="write what the model saw to OUT.png")
    r.add_argument("--input-shape", type=_shape, help="C,H,W when the file does not say")
    r.add_argument("--precision", choices=INFERENCE, default="fp32", help=INFERENCE_HELP)
    r.set_defaults(func=cmd_predict)

    s = sub.add_parser(
        "summary",
        help="layers, output shapes and parameter counts of a model",
        description="Print a table of a model's layers, output shapes and parameters.",
    )
    s.add_argument("model_name", metavar="MODEL_NAME", help="a model name, or a .safetensors file")
    s.add_argument(
        "--input-shape", type=_shape, help="C,H,W (default: what the model was built for)"
    )
    s.add_argument("--num-classes", type=_positive_int, help="outputs of the last layer")
    s.set_defaults(func=cmd_summary)
    from .viz.cli import add_viz_parser  # noqa: PLC0415  (matplotlib stays unimported here)

    add_viz_parser(sub)
    from .models.pth import add_convert_parser  # noqa: PLC0415

    add_convert_parser(sub)
    from .serve.server import add_serve_parser  # noqa: PLC0415

    add_serve_parser(sub, train_live=_train_live)
    from .distributed.launch import add_launch_parser  # noqa: PLC0415

    add_launch_parser(sub)
    from .onnx.files import add_export_parser  # noqa: PLC0415  (onnx is imported when used)

    add_export_parser(sub, _load_model)
    return p


def _version() -> str:
    from .version import __version__  # noqa: PLC0415

    return __version__


def _train_live(address: str) -> int:
    """``tinyconv serve`` without a model: train the default one, shown live at ``address``."""
    return main(["train", "--serve", address])


# ----------------------------------------------------------------------------- helpers
def _build_model(name: str, **wanted: Any) -> Any:
    """``models.get(name)`` with those of ``wanted`` (num_classes, in_channels, ...) it accepts."""
    from . import models  # noqa: PLC0415

    key = name.strip().lower().replace("-", "_")
    fn = getattr(models, key, None)
    if fn is None or key not in models.list_models():
        models.get(name)  # raises the registry's "unknown model ... Available: ..." error
    accepted = inspect.signature(fn).parameters
    return models.get(key, **{k: v for k, v in wanted.items() if k in accepted})


def _load_data(
    name: str,
    limit: int | None,
    size: int | None = None,
    channels: int | None = None,
    classes: list[str] | None = None,
    seed: int = 0,
    holdout: bool = True,
) -> dict[str, Any]:
    """Train/test arrays, class names and normalisation of a dataset name or an image folder.

    A folder is split at random (by ``seed``) into 90 % train and 10 % test. With
    ``holdout=False`` (``tinyconv evaluate``) only test images are loaded: the test split of a
    dataset, or every image of a folder; ``train`` is then None.
    """
    from . import data  # noqa: PLC0415

    out: dict[str, Any] = {"train": None, "preprocess": "resize", "invert": False}
    if os.path.isdir(name):
        side = size or 28
        x, y, names = data.load_folder(name, size=side, channels=channels or 1, classes=classes)
        path = str(Path(name).resolve())
        out.update(classes=names, name=Path(path).name, mean=(0.0,), std=(1.0,), path=path)
        if not holdout:
            out["test"] = (x, y)
        else:
            train, test = data.split.folder_split(len(x), seed)
            if len(train) == 0:
                raise UserError(f"{name}: too few images to train on ({len(x)})")
            pixels = x[train].astype(numpy.float64) / 255.0  # (N, C, H, W)
            out["mean"] = tuple(float(m) for m in pixels.mean(axis=(0, 2, 3)))
            out["std"] = tuple(max(float(s), 1e-3) for s in pixels.std(axis=(0, 2, 3)))
            out["train"], out["test"] = (x[train], y[train]), (x[test], y[test])
    else:
        if holdout:
            out["train"] = data.load(name, "train")
        out.update(test=data.load(name, "test"), classes=data.classes(name), name=name)
        out["mean"], out["std"] = data.normalization(name)
        grey = out["test"][0].shape[1] == 1
        out.update(preprocess=data.images.recipe_for(name), invert="auto" if grey else False)
    for split in ("train", "test"):
        if limit is not None and out[split] is not None:
            out[split] = tuple(a[:limit] for a in out[split])
    return out


def _model_arg(model: str) -> str:
    """A model file is kept as an absolute path (so that --resume works from anywhere)."""
    if model.endswith(".safetensors"):
        if not os.path.isfile(model):
            raise UserError(f"model file not found: {model}")
        return str(Path(model).resolve())
    return model


def _out_dir(model: str, dataset: str) -> Path:
    base = Path("runs") / f"{model}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, i = base, 1
    while out.exists():
        i += 1
        out = base.with_name(f"{base.name}-{i}")
    return out


def _load_model(path: str) -> tuple[Any, dict[str, Any]]:
    from . import io, models  # noqa: F401, PLC0415  (the zoo's classes register on import)

    if not os.path.isfile(path):
        raise UserError(f"model file not found: {path}")
    if path.lower().endswith(".onnx"):  # an exported or foreign ONNX graph
        from .onnx.files import load_model_file  # noqa: PLC0415

        return load_model_file(path)
    model = io.load(path)
    if not hasattr(model, "forward"):
        raise UserError(
            f"{path} holds weights only (a state dict), not a model with its architecture"
        )
    return model, io.read_metadata(path)


def _set_precision(model: Any, precision: str) -> Any:
    """Cast a loaded model for 16-bit inference (``--precision``); returns its dtype."""
    from .amp import inference_dtype  # noqa: PLC0415

    dtype = inference_dtype(precision)
    model.to(dtype)
    return dtype


def _input_shape(
    model: Any, meta: dict[str, Any], given: tuple[int, ...] | None
) -> tuple[int, ...]:
    shape = given or meta.get("input_shape") or getattr(model, "input_shape", None)
    if shape is None:
        raise UserError("the model file does not say its input shape: pass --input-shape C,H,W")
    if (
        not isinstance(shape, (list, tuple))
        or len(shape) != 3
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
    ):
        raise UserError(f"the model's input_shape {shape!r} is not C,H,W of positive integers")
    problem = _shape_problem(tuple(shape))
    if problem:
        raise UserError(f"input shape {tuple(shape)}: {problem}")
    return tuple(int(s) for s in shape)


def _run_settings(run_file: Path) -> dict[str, Any]:
    """The settings a run folder's run.json recorded (for ``--resume``)."""
    try:
        run = json.loads(run_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise UserError(f"cannot resume: {run_file} is not valid JSON ({e})") from None
    settings = run.get("settings") if isinstance(run, dict) else None
    missing = [
        k
        for k in ("model", "data", "epochs")
        if not isinstance(settings, dict) or k not in settings
    ]
    if missing:
        raise UserError(f"cannot resume: {run_file} has no settings {', '.join(missing)}")
    return settings


def _class_names(meta: dict[str, Any], outputs: int, path: str) -> list[str]:
    """The model file's class names, one for each of the model's ``outputs`` (io.class_names)."""
    from .io import class_names  # noqa: PLC0415

    return class_names(meta.get("classes"), outputs, path)


# ------------------------------------------------------------------------------ train
def cmd_train(args: argparse.Namespace) -> int:
    from . import data, io, manual_seed  # noqa: PLC0415
    from .distributed.cli import TrainRun  # noqa: PLC0415
    from .plots import plot_history  # noqa: PLC0415
    from .train import evaluate, fit, make_optimizer  # noqa: PLC0415

    ranks = TrainRun(args)  # one process: rank 0 of 1; under mpirun: data-parallel
    quiet = args.quiet or not ranks.is_root
    chosen = False
    if args.resume:
        out = Path(args.resume)
        run_file = out / "run.json"
        if not run_file.is_file():
            raise UserError(f"cannot resume: {run_file} not found (not a tinyconv train folder)")
        fixed = (
            "model",
            "data",
            "batch_size",
            "lr",
            "optimizer",
            "seed",
            "out",
            "limit",
            "precision",
            "val",
        )
        given = [f"--{k.replace('_', '-')}" for k in fixed if getattr(args, k) is not None]
        if given:
            raise UserError(
                f"--resume continues a run with its saved settings; only --epochs may be changed "
                f"(got {', '.join(given)})"
            )
        settings = _run_settings(run_file)
        if args.epochs is not None:
            settings["epochs"] = args.epochs
    else:
        name = args.data or data.default_dataset()
        chosen = args.epochs is None
        settings = {
            "model": _model_arg(args.model or DEFAULT_MODEL),
            "data": name,
            "epochs": args.epochs or DEFAULT_EPOCHS.get(name, 1),
            "batch_size": args.batch_size or 100,
            "lr": args.lr or 0.001,
            "optimizer": (args.optimizer or "adam").lower(),
            "seed": 0 if args.seed is None else args.seed,
            "limit": args.limit,
            "val": args.val,
            "augment": args.augment,
            "image_size": args.image_size,
            "channels": args.channels,
            "precision": args.precision or "fp32",
        }
        ranks.adjust(settings)
        stem = Path(settings["model"]).name.removesuffix(".safetensors")
        out = Path(args.out) if args.out else _out_dir(stem, Path(name).name)
    out = ranks.agree_path(out)
    seed = int(settings["seed"])
    if args.device == "cuda":
        from .backend import check_cuda_available  # noqa: PLC0415

        try:
            check_cuda_available()
        except RuntimeError as e:
            raise UserError(str(e)) from None
    ds = _load_data(
        settings["data"],
        settings.get("limit"),
        settings.get("image_size"),
        settings.get("channels"),
        seed=seed,
    )
    x_train, y_train = ds["train"]
    x_test, y_test = ds["test"]
    n_val = settings.get("val", 0)  # a run saved before --val existed had no validation split
    if n_val is None:
        n_val = data.split.default_val_size(len(x_train))
    kept, held = data.split.hold_out(len(x_train), n_val, seed)
    x_val, y_val = x_train[held], y_train[held]
    x_train, y_train = x_train[kept], y_train[kept]
    C, H, W = x_train.shape[1:]
    if H != W:
        raise UserError(f"{settings['data']}: images are {H}x{W}; the models expect square images")
    manual_seed(seed)
    if settings["model"].endswith(".safetensors"):  # a saved architecture and its start weights
        model, _ = _load_model(settings["model"])
        _check_outputs(model, (C, H, W), settings["model"], ds)
    else:
        model = _build_model(
            settings["model"], num_classes=len(ds["classes"]), in_channels=C, input_size=H
        )
    if args.device != "cpu":
        model.to(args.device)
    if chosen and not quiet:
        print(
            f"Chose {settings['epochs']} epoch(s) for {settings['data']} (about two minutes or "
            "less on 2 CPU cores; change with --epochs)"
        )
    transform = None
    if settings.get("augment"):
        from .data.transforms import Compose, RandomCrop, RandomHorizontalFlip  # noqa: PLC0415

        shifts = [RandomCrop(int(H), padding=max(1, int(H) // 8))]  # CIFAR-10: 32 px, padding 4
        flips = [RandomHorizontalFlip()] if C == 3 else []  # a mirrored digit is another symbol
        transform = Compose(shifts + flips)
    norm = {"mean": ds["mean"], "std": ds["std"], "device": args.device}
    train = data.DataLoader(
        x_train,
        y_train,
        batch_size=settings["batch_size"],
        shuffle=True,
        seed=seed,
        transform=transform,
        **norm,
    )
    val = data.DataLoader(x_val, y_val, batch_size=500, **norm) if n_val else None
    optimizer = make_optimizer(settings["optimizer"], model, settings["lr"])
    out.mkdir(parents=True, exist_ok=True)
    if not args.resume and ranks.is_root:
        run = {"settings": settings, "command": sys.argv[1:], "started": time.ctime()}
        with naming_file(out / "run.json"):
            (out / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    if not quiet:
        print(
            f"Training {settings['model']} on {ds['name']} ({len(x_train)} train / {n_val} "
            f"validation / {len(x_test)} test images, {C}x{H}x{W}), {settings['epochs']} "
            "epoch(s), batch "
            f"{settings['batch_size']}, {settings['optimizer']} lr {settings['lr']}, seed {seed}"
        )
    from .serve import interrupt  # noqa: PLC0415

    interrupt.remember_ctrl_c()  # a Ctrl-C while Numba compiles is not lost (serve/interrupt.py)
    live = None
    if args.serve:
        from .serve import start_live_training  # noqa: PLC0415
        from .serve.server import stop_on_ctrl_c  # noqa: PLC0415

        stop_on_ctrl_c()  # Ctrl-C ends the run even where SIGINT was inherited as ignored

        live = start_live_training(
            args.serve, model, (C, H, W), ds["classes"], ds["mean"], ds["std"],
            preprocess=ds["preprocess"],
        )  # fmt: skip
    try:
        with ranks.guard():  # under mpirun, a failing rank ends the whole job
            history = fit(
                model,
                train,
                val,
                epochs=int(settings["epochs"]),
                optimizer=optimizer,
                checkpoint_dir=out / "checkpoints",
                resume=bool(args.resume),
                seed=seed,
                verbose=not quiet,
                distributed=ranks.fit_arg,
                precision=settings.get("precision", "fp32"),
                **(live.fit_kwargs if live else {"callbacks": [interrupt.StopOnCtrlC()]}),
            )
    except KeyboardInterrupt:
        if live:
            live.close()  # the server thread ends before the process does
        print(
            f"\ntinyconv: interrupted; continue with: tinyconv train --resume {out}",
            file=sys.stderr,
        )
        return 130
    if not ranks.is_root:
        return 0  # rank 0 saves the model and the history
    test = evaluate(model, data.DataLoader(x_test, y_test, batch_size=500, **norm))
    meta = {
        "model": settings["model"],
        "dataset": settings["data"],
        "classes": list(ds["classes"]),
        "mean": list(ds["mean"]),
        "std": list(ds["std"]),
        "input_shape": [int(C), int(H), int(W)],
        "preprocess": ds["preprocess"],  # the image recipe of every front-end (data.images)
        "invert": ds["invert"],
        "epochs": history.epochs,
        "seed": seed,
        "val_images": int(n_val),
        "val_accuracy": history.last("val_acc"),
        "test_images": int(test["num_samples"]),
        "test_loss": test["loss"],
        "test_accuracy": test["accuracy"],
    }
    if ds.get("path"):
        meta["data_path"] = ds["path"]
    model_path = out / "model.safetensors"
    io.save(model, model_path, metadata=meta)
    history.to_json(out / "history.json")
    history.to_csv(out / "history.csv")
    curve = plot_history(history, out / "curves.png", title=f"{settings['model']} on {ds['name']}")
    if n_val and history.last("val_acc") is not None:
        print(f"Validation accuracy {100 * history.last('val_acc'):.2f}% ({n_val} images)")
    print(f"Test accuracy {100 * test['accuracy']:.2f}% ({test['num_samples']} images, read once)")
    print(f"Saved in {out}/:")
    print(f"  model        {model_path}")
    print(f"  history      {out / 'history.json'}, {out / 'history.csv'}")
    print(
        f"  curves       {curve}"
        if curve
        else "  curves       skipped (matplotlib is not installed)"
    )
    print(f"  checkpoints  {out / 'checkpoints'}/")
    print(f"Next: tinyconv evaluate {model_path}  |  tinyconv predict {model_path} IMAGE.png")
    if live:
        live.finish(model_path)  # serves the saved model until Ctrl-C
    return 0


def _check_outputs(model: Any, shape: tuple[int, ...], path: str, ds: dict[str, Any]) -> None:
    """A saved model trained further must have one output per class of the new data."""
    rows = model.summary(tuple(int(s) for s in shape)).rows
    out = tuple(rows[-1].output_shape) if rows else ()
    if len(out) == 1 and int(out[0]) != len(ds["classes"]):
        raise UserError(
            f"{path} has {out[0]} outputs but {ds['name']} has {len(ds['classes'])} classes "
            "(start from a model name, e.g. --model simple_convnet, or from a file with as "
            "many outputs)"
        )


# --------------------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from . import data  # noqa: PLC0415
    from .train import evaluate  # noqa: PLC0415

    model, meta = _load_model(args.model_file)
    _set_precision(model, args.precision)
    name = args.data or meta.get("dataset") or data.default_dataset()
    C, H, _ = _input_shape(model, meta, None)
    if os.path.isdir(name):
        ds = _folder_test_images(name, meta, (C, H, H), args.limit)
    else:
        ds = _load_data(
            name, args.limit, size=H, channels=C, classes=meta.get("classes"), holdout=False
        )
    mean, std = meta.get("mean", ds["mean"]), meta.get("std", ds["std"])
    x, y = ds["test"]
    if x.shape[1:] != (C, H, H):
        raise UserError(f"{name} images are {tuple(x.shape[1:])} but the model expects {(C, H, H)}")
    loader = data.DataLoader(x, y, batch_size=args.batch_size, mean=mean, std=std)
    res = evaluate(model, loader)
    outputs = res["confusion_matrix"].shape[1]
    if meta.get("classes"):
        classes = _class_names(meta, outputs, args.model_file)
    else:  # the dataset's names; a model wider than the dataset numbers the rest
        classes = list(ds["classes"])[:outputs]
        classes += [str(i) for i in range(len(classes), outputs)]
    at = "" if args.precision == "fp32" else f" in {args.precision}"
    print(f"{args.model_file}{at} on {ds['name']} test ({res['num_samples']} images)")
    print(f"loss {res['loss']:.4f}  accuracy {100 * res['accuracy']:.2f}%")
    print("per-class accuracy:")
    counts = res["confusion_matrix"].sum(axis=1)
    for i, a in enumerate(res["per_class_accuracy"]):
        label = classes[i]
        text = "   n/a" if numpy.isnan(a) else f"{100 * a:6.2f}%"
        print(f"  {i:>3} {label:<12} {text}  ({counts[i]} images)")
    print("confusion matrix (rows: true class, columns: predicted class):")
    cm = res["confusion_matrix"]
    width = max(4, len(str(cm.max())) + 1)
    print("     " + "".join(f"{j:>{width}}" for j in range(cm.shape[1])))
    for i, row in enumerate(cm):
        print(f"  {i:>3}" + "".join(f"{v:>{width}}" for v in row))
    return 0


def _folder_test_images(
    folder: str, meta: dict[str, Any], shape: tuple[int, int, int], limit: int | None
) -> dict[str, Any]:
    """``data.split.folder_test_set``, saying which images are tested."""
    from .data.split import folder_test_set  # noqa: PLC0415

    ds = folder_test_set(folder, meta, shape, limit)
    names = ds["files"]
    shown = ", ".join(names[:8]) + (f", ... ({len(names) - 8} more)" if len(names) > 8 else "")
    print(f"{folder}: testing {ds['what']}: {shown}")
    return ds


# ---------------------------------------------------------------------------- predict
def cmd_predict(args: argparse.Namespace) -> int:
    from . import no_grad, tensor  # noqa: PLC0415
    from .data import images as prep  # noqa: PLC0415

    model, meta = _load_model(args.model_file)
    dtype = _set_precision(model, args.precision)
    shape = _input_shape(model, meta, args.input_shape)
    invert = {"auto": meta.get("invert", "auto"), "yes": True, "no": False}[args.invert]
    if shape[0] != 1 and args.invert == "auto":
        invert = False
    recipe = prep.resolve_recipe(meta, args.preprocess)
    xs, seen = [], []
    for path in args.images:
        if not os.path.isfile(path):
            raise UserError(f"image file not found: {path}")
        with warnings.catch_warnings():  # said below in one line
            warnings.simplefilter("ignore", prep.BlankImageWarning)
            x, s, blank = prep.prepare_for_model(path, meta, shape, recipe, invert)
        if blank:
            print(f"tinyconv predict: warning: {path}: no ink found (a blank image); its "
                  "answer means nothing", file=sys.stderr)  # fmt: skip
        xs.append(x)
        seen.append(s)
    model.eval()
    with no_grad():
        logits = model(tensor(numpy.stack(xs), dtype=dtype)).numpy().astype(numpy.float64)
    logits -= logits.max(axis=1, keepdims=True)
    probs = numpy.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    classes = _class_names(meta, probs.shape[1], args.model_file)
    k = min(args.top_k, probs.shape[1])
    for path, p in zip(args.images, probs, strict=True):
        top = numpy.argsort(-p, kind="stable")[:k]
        ranked = ", ".join(f"{classes[i]} ({100 * p[i]:.1f}%)" for i in top)
        print(f"{path}: {ranked}")
    if args.show_input:
        written = _write_seen(numpy.stack(seen), args.show_input)
        print(f"Wrote what the model saw ({recipe} recipe) to {written}")
    return 0


def _write_seen(seen: numpy.ndarray, path: str) -> Path:
    """The (N, C, H, W) 0..255 inputs side by side as one PNG (Pillow), atomically."""
    from PIL import Image  # noqa: PLC0415

    row = numpy.concatenate(list(numpy.clip(numpy.rint(seen), 0, 255).astype(numpy.uint8)), 2)
    img = Image.fromarray(row[0] if row.shape[0] == 1 else row.transpose(1, 2, 0))
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    img.save(tmp, format="PNG")
    os.replace(tmp, out)
    return out


# ---------------------------------------------------------------------------- summary
def cmd_summary(args: argparse.Namespace) -> int:
    if args.model_name.endswith((".safetensors", ".onnx")) or os.path.isfile(args.model_name):
        model, meta = _load_model(args.model_name)
        shape = _input_shape(model, meta, args.input_shape)
    else:
        wanted: dict[str, Any] = {}
        if args.input_shape:
            wanted.update(in_channels=args.input_shape[0], input_size=args.input_shape[1])
        if args.num_classes:
            wanted["num_classes"] = args.num_classes
        model = _build_model(args.model_name, **wanted)
        shape = _input_shape(model, {}, args.input_shape)
    print(model.summary(shape))
    return 0


# ------------------------------------------------------------------------------- main
def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename and e.strerror:
        text = f"{e.strerror}: {e.filename}"
    else:
        text = str(e) or type(e).__name__
    text = " ".join(text.split()).removeprefix("tinyconv: ")  # the line starts with it already
    return text[1:-1] if isinstance(e, KeyError) and text[:1] in "'\"" else text


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tinyconv`` console script and of ``python -m tinyconv``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        commands = next(
            a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)
        )
        parser.error(f"choose a command: {', '.join(commands)}")
    from .train import TrainingDiverged  # noqa: PLC0415

    try:
        return int(args.func(args) or 0)
    except TrainingDiverged as e:
        print(f"tinyconv {args.command}: {_one_line(e)}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"\ntinyconv {args.command}: interrupted", file=sys.stderr)
        return 130
    except (UserError, OSError, ValueError, TypeError, KeyError, ImportError) as e:
        if os.environ.get("TINYCONV_DEBUG"):
            raise
        print(f"tinyconv {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:
        if os.environ.get("TINYCONV_DEBUG"):
            raise
        print(
            f"tinyconv {args.command}: internal error: {type(e).__name__}: {_one_line(e)} "
            "(set TINYCONV_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
