"""tinyconv serve end to end: the page in headless Chromium, driven by Playwright.

The server runs from a wheel built from this checkout and unpacked into a temporary folder
(so the page comes from the package data of an installed package, not the source tree), as
``python -m tinyconv serve MODEL --port 0``. Chromium is Debian's (``chromium-headless-shell``,
or ``chromium``) passed to Playwright as ``executable_path``: Playwright never downloads one.

Set ``TINYCONV_UPDATE_SCREENSHOT=1`` to also write the screenshot to docs/playground.png.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from test_serve_api import trained_model_file

ROOT = Path(__file__).resolve().parents[1]
INSTALL = (
    "install them with: apt-get install chromium-headless-shell && "
    "pip install playwright==1.65.2 (or pip install -e '.[test]'); never `playwright install`"
)


def chromium_path() -> str | None:
    for name in (os.environ.get("TINYCONV_CHROMIUM"), "chromium-headless-shell", "chromium"):
        found = name and shutil.which(name)
        if found:
            return found
    return None


sync_api = pytest.importorskip("playwright.sync_api", reason=f"needs Playwright: {INSTALL}")
CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=f"needs Chromium: {INSTALL}")


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """tinyconv built as a wheel from a copy of this checkout, unpacked into site/."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(
        ROOT / "tinyconv", src / "tinyconv", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(base / "dist"), str(src)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (base / "dist").glob("tinyconv-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for page in ("index.html", "style.css", "js/main.js", "js/pad.js", "js/view.js"):
        assert f"tinyconv/serve/static/{page}" in names, f"{page} is not package data"
    site = base / "site"
    zipfile.ZipFile(wheel).extractall(site)
    return site


@pytest.fixture(scope="module")
def server_url(installed, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    run = home / "runs" / "simple_convnet-mnist-sample"
    run.mkdir(parents=True)
    shutil.copy(trained_model_file(tmp_path_factory), run / "model.safetensors")
    env = dict(os.environ, PYTHONPATH=str(installed), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(  # no MODEL: it serves the newest runs/*/model.safetensors
        [sys.executable, "-m", "tinyconv", "serve", "--port", "0"],
        cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        m = re.search(r"Serving runs/simple_convnet-mnist-sample/model.safetensors at "
                      r"(http://127\.0\.0\.1:\d+/)", line)  # fmt: skip
        assert m, line + proc.stderr.read()
        origin = subprocess.run(
            [sys.executable, "-c", "import tinyconv.serve; print(tinyconv.serve.__file__)"],
            env=env, cwd=home, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert origin.startswith(str(installed)), origin  # served by the installed copy
        yield m.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server_url):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    problems = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)  # fmt: skip
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))
    pg.goto(server_url)
    pg.wait_for_selector("body[data-ready=true]", timeout=15_000)
    yield pg
    found = list(problems)  # (closing the context aborts the open requests)
    context.close()
    assert found == [], found


def draw(pg, points, steps=8):
    """Press the mouse at points[0], move through the others, release."""
    box = pg.locator("#pad").bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    pg.mouse.move(*xy[0])
    pg.mouse.down()
    for p in xy[1:]:
        pg.mouse.move(*p, steps=steps)
    pg.mouse.up()


def wait_prediction(pg):
    # (expect() polls without eval, which the page's Content-Security-Policy forbids)
    sync_api.expect(pg.locator("#status")).to_have_text(re.compile(r"^The model reads"))
    return pg.locator("#predicted").text_content()


# -------------------------------------------------------------------------------- tests
def test_vertical_stroke_reads_as_one_with_bars_maps_and_summary(page, server_url, tmp_path):
    with urllib.request.urlopen(server_url + "api/model") as r:
        model = json.load(r)
    assert page.locator("#status").text_content() == "Draw a digit on the pad."
    assert page.locator("#predicted").text_content() == "–"
    assert "SimpleConvNet" in page.locator("#model-line").text_content()
    assert "Total params: 433,890" in page.locator("#summary").text_content()
    assert page.locator("#pad").evaluate("e => getComputedStyle(e).touchAction") == "none"

    draw(page, [(0.5, 0.15), (0.5, 0.85)])
    assert wait_prediction(page) == "1"
    assert page.locator("#bars li").count() == 10
    top = page.locator("#bars li.top .label").text_content()
    assert top == "1"
    widths = page.locator("#bars .fill").evaluate_all("els => els.map(e => e.offsetWidth)")
    assert max(widths) == widths[1] > 0
    channels = {
        layer["name"]: layer["output_shape"][0] for layer in model["layers"] if layer["maps"]
    }
    assert channels == {"conv1": 30, "pool1": 30}
    for name, count in channels.items():
        assert page.locator(f'#maps section[data-layer="{name}"] canvas').count() == count
    assert page.locator("#maps canvas").count() == sum(channels.values())
    # the maps and the 28x28 input were painted (not blank)
    painted = page.locator("#maps canvas").evaluate_all(
        "els => els.filter(c => c.getContext('2d').getImageData(0, 0, c.width, c.height)"
        ".data.some((v, i) => i % 4 === 3 && v > 0)).length"
    )
    assert painted == 60
    seen = page.locator("#seen").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data)"
        ".filter((v, i) => i % 4 === 0 && v > 0).length"
    )
    assert 20 <= seen <= 120  # a 20-pixel-tall, 2-3-pixel-wide bar
    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("TINYCONV_UPDATE_SCREENSHOT"):
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "playground.png")


def test_clear_says_the_pad_is_empty_and_a_new_digit_is_read(page):
    draw(page, [(0.5, 0.15), (0.5, 0.85)])
    assert wait_prediction(page) == "1"
    page.click("#clear")
    sync_api.expect(page.locator("#predicted")).to_have_text("–")
    assert page.locator("#status").text_content() == "The pad is empty: draw a digit."
    assert page.locator("#bars li.top").count() == 0
    # a zero: an ellipse drawn in one stroke
    import math

    ring = [(0.5 + 0.22 * math.sin(t / 24 * 2 * math.pi), 0.5 - 0.32 * math.cos(t / 24 * 2 * math.pi)) for t in range(26)]  # fmt: skip
    draw(page, ring, steps=3)
    assert wait_prediction(page) == "0"


def test_touch_pointer_draws_too(page):
    page.locator("#pad").evaluate(
        """pad => {
          const box = pad.getBoundingClientRect();
          const at = (type, fy) => pad.dispatchEvent(new PointerEvent(type, {
            pointerId: 7, pointerType: "touch", isPrimary: true, bubbles: true, cancelable: true,
            clientX: box.left + box.width / 2, clientY: box.top + fy * box.height, button: 0,
            buttons: 1}));
          at("pointerdown", 0.15);
          for (let i = 1; i <= 14; i++) at("pointermove", 0.15 + i * 0.05);
          at("pointerup", 0.85);
        }"""
    )
    assert wait_prediction(page) == "1"


def test_training_tab_without_live_training_says_how_to_start_one(page):
    page.click("#tab-train")
    assert page.locator("#play").is_hidden() and page.locator("#train").is_visible()
    sync_api.expect(page.locator("#train-status")).to_contain_text("tinyconv train --serve")
    page.click("#tab-play")
    assert page.locator("#pad").is_visible()
