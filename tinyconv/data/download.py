"""Where dataset files live, and fetching the missing ones with checksum verification.

The data directory is ``$TINYCONV_DATA`` when set, else a per-user cache directory
(``platformdirs.user_cache_dir("tinyconv")`` when platformdirs is installed, else
``~/.cache/tinyconv``). Downloads use `pooch <https://www.fatiando.org/pooch>`_ (the optional
extra ``tinyconv[data]``) with a tqdm progress bar; ``file://`` URLs and plain paths are copied
without it (local mirrors, tests). A downloaded file is written under a temporary name, checked
against the registry's checksum, and only then renamed into place: a corrupt download is
deleted and rejected with a ChecksumError.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tarfile
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .checksum import ChecksumError, DatasetNotFoundError, verify_file
from .registry import DatasetSpec, FileSpec

ENV_VAR = "TINYCONV_DATA"
TIMEOUT_S = 30


def data_dir() -> Path:
    """The data directory: ``$TINYCONV_DATA``, else a per-user cache directory.

    The cache directory is ``platformdirs.user_cache_dir("tinyconv")`` when platformdirs is
    installed (``~/.cache/tinyconv`` on Linux), else ``~/.cache/tinyconv``. It need not exist.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs  # noqa: PLC0415

        return Path(platformdirs.user_cache_dir("tinyconv", appauthor=False))
    except ImportError:
        return Path.home() / ".cache" / "tinyconv"


def resolve_root(root: str | os.PathLike[str] | None) -> Path:
    """``root`` as a Path, or the default ``data_dir()`` when None."""
    return data_dir() if root is None else Path(root).expanduser()


def find_file(folder: Path, f: FileSpec) -> Path | None:
    """The stored copy of ``f`` in ``folder``: its own name, or the same without ``.gz``."""
    candidates = [folder / f.name]
    if f.name.endswith(".gz"):
        candidates.append(folder / f.name[: -len(".gz")])  # already decompressed
    for c in candidates:
        if c.is_file():
            return c
    return None


def missing_files(spec: DatasetSpec, split: str, root: Path) -> list[FileSpec]:
    """The files of ``split`` that are not in ``root / spec.folder``."""
    folder = root / spec.folder
    return [f for f in spec.splits[split] if find_file(folder, f) is None]


def _have_tqdm() -> bool:
    """pooch draws its progress bar with tqdm (an optional dependency)."""
    try:
        import tqdm  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def fetch_url(url: str, dest: Path) -> Path:
    """Fetch ``url`` to the file ``dest``, unchecked (the caller verifies); return ``dest``.

    ``file://`` URLs and plain paths are copied. http(s) and ftp use pooch, with a progress bar
    when tqdm is installed.

    Raises:
        ImportError: an http(s)/ftp URL and pooch is not installed.
        Exception: whatever the transfer raises (no network, HTTP error, ...).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("", "file"):
        src = Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme else Path(url)
        shutil.copyfile(src, dest)
        return dest
    try:
        import pooch  # noqa: PLC0415
    except ImportError as e:
        raise ImportError(
            "downloading needs pooch, which is not installed: pip install 'tinyconv[data]'"
        ) from e
    downloader = None
    if parsed.scheme in ("http", "https"):
        downloader = pooch.HTTPDownloader(progressbar=_have_tqdm(), timeout=TIMEOUT_S)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # we verify ourselves; pooch's "use this hash" hint misleads
    try:
        final = dest.with_name(dest.name.removesuffix(".part"))
        print(f"tinyconv: downloading {url} -> {final}", file=sys.stderr)
        pooch.retrieve(
            url, known_hash=None, fname=dest.name, path=dest.parent, downloader=downloader
        )
    finally:
        logger.setLevel(level)
    return dest


def _fetch_verified(
    urls: Sequence[str], dest: Path, checksum: str, decompress: bool = True
) -> tuple[bool, list[str]]:
    """Try each URL: fetch to a temporary name, verify, rename. Returns (success, reasons).

    Raises:
        ChecksumError: no URL gave a good file and at least one gave a bad one.
    """
    reasons: list[str] = []
    tmp = dest.with_name(dest.name + ".part")
    last_bad: ChecksumError | None = None
    for url in urls:
        tmp.unlink(missing_ok=True)  # a stale partial file would be taken as downloaded
        try:
            fetch_url(url, tmp)
            verify_file(tmp, checksum, decompress)
        except ChecksumError as e:
            tmp.unlink(missing_ok=True)
            last_bad = ChecksumError(
                f"download from {url} rejected: {e}".replace(str(tmp), str(dest))
            )
            reasons.append(f"{url}: checksum mismatch")
            continue
        except ImportError as e:
            tmp.unlink(missing_ok=True)
            return False, [str(e)]
        except Exception as e:  # no network, HTTP 404, refused connection...
            tmp.unlink(missing_ok=True)
            reasons.append(f"{urllib.parse.urlparse(url).netloc or url}: {_why(e)}")
            continue
        os.replace(tmp, dest)
        return True, reasons
    if last_bad is not None:
        raise last_bad
    return False, reasons


_KNOWN_FAILURES = (
    ("NameResolution", "cannot resolve the host name (no network?)"),
    ("Name or service not known", "cannot resolve the host name (no network?)"),
    ("Temporary failure in name resolution", "cannot resolve the host name (no network?)"),
    ("Connection refused", "connection refused"),
    ("timed out", f"no answer within {TIMEOUT_S} s"),
    ("Network is unreachable", "network unreachable"),
)


def _why(e: BaseException, limit: int = 120) -> str:
    """A short, one-line reason for a failed transfer."""
    text = " ".join(str(e).split())
    for needle, reason in _KNOWN_FAILURES:
        if needle in text:
            return reason
    text = f"{type(e).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fetch_archive(spec: DatasetSpec, root: Path) -> tuple[bool, list[str]]:
    """Download ``spec.archive`` (a .tar.gz), extract the dataset folder's files, delete it."""
    assert spec.archive is not None
    name, checksum, urls = spec.archive
    archive = root / name
    ok, reasons = _fetch_verified(urls, archive, checksum, decompress=False)
    if not ok:
        return False, reasons
    wanted = {f.name for files in spec.splits.values() for f in files} | {"batches.meta.txt"}
    folder = root / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            base = Path(member.name).name
            if member.isfile() and base in wanted:  # flat copy: no path from the archive is used
                src = tar.extractfile(member)
                assert src is not None
                with src, open(folder / base, "wb") as out:
                    shutil.copyfileobj(src, out)
    archive.unlink()
    return True, reasons


def ensure_files(
    spec: DatasetSpec, split: str, root: str | os.PathLike[str] | None = None, download: bool = True
) -> list[Path]:
    """The paths of ``split``'s files, downloading the missing ones when ``download``.

    Returns:
        One path per ``spec.splits[split]`` entry, in order.

    Raises:
        DatasetNotFoundError: files missing and not downloadable (download=False, no pooch, no
            network); the message names the files, the folder to put them in and the URLs.
        ChecksumError: a downloaded file failed its checksum (it is deleted).
    """
    root = resolve_root(root)
    folder = root / spec.folder
    missing = missing_files(spec, split, root)
    if missing:
        if not download:
            raise DatasetNotFoundError(
                _missing_message(spec, split, root, missing, "download=False")
            )
        reasons: list[str] = []
        if spec.archive is not None:
            ok, reasons = _fetch_archive(spec, root)
        else:
            for f in missing:
                urls = [base + f.name for base in spec.urls]
                ok, why = _fetch_verified(urls, folder / f.name, f.checksum)
                reasons += why
                if not ok:
                    break
        still = missing_files(spec, split, root)
        if still:
            why = "; ".join(reasons) or "what was downloaded did not contain them"
            raise DatasetNotFoundError(
                _missing_message(spec, split, root, still, f"download failed ({why})")
            )
    paths = [find_file(folder, f) for f in spec.splits[split]]
    return [p for p in paths if p is not None]


def _missing_message(
    spec: DatasetSpec, split: str, root: Path, missing: Sequence[FileSpec], reason: str
) -> str:
    folder = root / spec.folder
    names = ", ".join(f.name for f in missing)
    if spec.archive is not None:
        how = (
            f"download {spec.archive[2][0]} and extract it in {root} (it unpacks to {spec.folder}/)"
        )
    else:
        how = f"download them from {spec.urls[0]}" if spec.urls else "copy them"
        how += f" into {folder}"
    return (
        f"dataset {spec.name!r} ({split}) not found: missing {names} in {folder}; {reason}. "
        f"To fix: {how}, or set {ENV_VAR} to a directory that has them. "
        "Offline, the embedded sample works: dataset 'mnist-sample'."
    )
