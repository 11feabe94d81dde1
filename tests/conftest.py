import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    try:
        import cupy  # noqa: F401

        has_gpu = cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        has_gpu = False
    skip_gpu = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(skip_gpu)


@pytest.fixture
def data_dir():
    """The real datasets: $TINYCONV_DATA, else ../shared/data; skip when absent."""
    d = Path(os.environ.get("TINYCONV_DATA", SHARED_DATA))
    if not (d / "mnist").is_dir():
        pytest.skip(f"real datasets not found in {d} (set TINYCONV_DATA)")
    return d
