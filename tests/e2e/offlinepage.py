"""Helpers for the service-worker tests: open the app (through its one isolation reload
where the host sends no headers), wait for the offline copy, run a batch of photos and
check what came back."""

from __future__ import annotations

import io
import time
from pathlib import Path

from PIL import Image

from imgpool.core.events import TaskDone
from imgpool_host.corpus import write_jpeg
from pagehelpers import BATCH_TIMEOUT_S, BOOT_TIMEOUT_MS, AppPage

#: The offline copy holds the whole app: tens of MB (Pyodide, its stdlib, wasm-vips).
MIN_OFFLINE_BYTES = 20 * 1024 * 1024


def write_photos(directory: Path) -> list[Path]:
    """Three camera-like JPEGs: a 6 MP landscape, a rotated portrait (EXIF 6), a small one."""
    return [
        write_jpeg(directory / "beach.jpg", 3000, 2000, 11),
        write_jpeg(directory / "tower.jpg", 2400, 1800, 12, orientation=6),
        write_jpeg(directory / "cat.jpg", 800, 600, 13),
    ]


#: (width, height) each photo should come back at: longest side at most 2048, rotated upright.
EXPECTED_SIZES = {"beach.jpg": (2048, 1365), "tower.jpg": (1536, 2048), "cat.jpg": (800, 600)}


def open_app(context, url: str) -> tuple[AppPage, float]:
    """Open the page and wait until every worker is ready; return it and the seconds taken.

    Works whether the host isolates the page itself or the service worker does it after
    one reload (the wait survives that navigation)."""
    page = context.new_page()
    app = AppPage(page, url)
    context.on("request", lambda r: app.requests.append(r.url))
    page.on("pageerror", lambda e: app.console_errors.append(str(e)))
    t0 = time.monotonic()
    page.goto(url)
    page.wait_for_function("window.crossOriginIsolated === true", timeout=BOOT_TIMEOUT_MS)
    assert app.client.wait_ready(BOOT_TIMEOUT_MS / 1000) == ""
    app.wait_workers_ready()
    return app, time.monotonic() - t0


def wait_offline_copy(app: AppPage) -> dict:
    """Wait until the service worker controls the page and its cache is complete."""
    app.page.wait_for_function("!!(window.imgpool.offline && window.imgpool.offline.ready)",
                               timeout=BOOT_TIMEOUT_MS)
    app.page.evaluate("window.imgpool.offline.ready")
    app.page.wait_for_function("navigator.serviceWorker.controller !== null",
                               timeout=BOOT_TIMEOUT_MS)
    return cache_state(app)


def cache_state(app: AppPage) -> dict:
    """The app's caches by name → cached paths, and the panel's reported bytes."""
    return app.page.evaluate("""async () => {
        const out = { caches: {}, panelBytes: 0, panelText: '' };
        for (const name of await caches.keys()) {
          const c = await caches.open(name);
          out.caches[name] = (await c.keys()).map((r) => r.url);
        }
        const usage = document.querySelector('#offline-usage');
        if (usage) { out.panelBytes = Number(usage.dataset.bytes || 0); out.panelText = usage.textContent; }
        return out;
    }""")


def run_photos(app: AppPage, photos: list[Path]) -> None:
    """Add the photos; every one must come back as a WebP of the expected size."""
    app.add_files(photos)
    check_results(app, len(photos))


def check_results(app: AppPage, count: int) -> None:
    """Wait for `count` photos (write_photos) to end; each must be a WebP of its size."""
    ended = app.client.wait_terminal(count, BATCH_TIMEOUT_S)
    failed = [(e.name, getattr(e.event, "message", e.type)) for e in ended
              if not isinstance(e.event, TaskDone)]
    assert failed == [], f"photos did not complete: {failed}"
    for event in ended:
        img = Image.open(io.BytesIO(app.output_bytes(event.task_id)))
        img.load()
        name = Path(event.name).name
        assert img.format == "WEBP", (name, img.format)
        want = EXPECTED_SIZES[name]
        assert all(abs(got - w) <= 1 for got, w in zip(img.size, want)), (name, img.size, want)
