import os
from pathlib import Path

import pytest

import tinyconv.kernels as K

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_report_header(config):
    numba = "available" if K.numba_available() else "not available"
    env = os.environ.get(K.ENV_VAR, "auto")
    return f"tinyconv kernels: {K.name()} (${K.ENV_VAR}={env}, Numba {numba})"


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


@pytest.fixture(params=["numpy", "numba"])
def kernel_path(request):
    """Run the test on each kernel path: ``"numpy"`` (the reference) and ``"numba"``.

    The path is active for the whole test (``tinyconv.kernels.using``) and the one chosen
    by ``$TINYCONV_KERNELS`` is restored after it; the numba case skips without Numba.
    Use it for kernel-parity tests: take ``kernel_path`` as an argument (or mark the test
    ``@pytest.mark.usefixtures("kernel_path")``) and compare with PyTorch, or compare with
    the reference computed under ``K.using("numpy")`` inside the test.
    """
    if request.param == "numba" and not K.numba_available():
        pytest.skip("Numba is not installed (pip install 'tinyconv[fast]')")
    with K.using(request.param):
        yield request.param


@pytest.fixture
def numba_kernels():
    """The compiled kernels active for this test; skips when Numba does not import."""
    if not K.numba_available():
        pytest.skip("Numba is not installed (pip install 'tinyconv[fast]')")
    with K.using("numba"):
        yield


@pytest.fixture
def numpy_kernels():
    """The NumPy reference active for this test, whatever $TINYCONV_KERNELS says."""
    with K.using("numpy"):
        yield


@pytest.fixture
def data_dir():
    """The real datasets: $TINYCONV_DATA, else ../shared/data; skip when absent."""
    d = Path(os.environ.get("TINYCONV_DATA", SHARED_DATA))
    if not (d / "mnist").is_dir():
        pytest.skip(f"real datasets not found in {d} (set TINYCONV_DATA)")
    return d
