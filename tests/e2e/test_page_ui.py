"""The page a person uses, in real Chromium: numbers that add up, settings that apply,
plain words, keyboard and phone use, care before leaving, and the pool panel in words.

Screenshots land in test-results/ (desktop, 390 px phone, dark theme, a failed batch);
look at them after a run.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from imgpool.core.events import TaskDone
from imgpool_host.corpus import write_jpeg, write_png
from pagehelpers import AppPage
from test_optimize import png_header_only

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "test-results"
COUNT_KEYS = ("queued", "running", "done", "failed", "cancelled", "skipped")
JARGON = ("Vips", "max_pixels", "[bad_input]", "bad_input", "unable to call", "raise ")


def shot(page, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"page-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sharp_logo(path: Path) -> Path:
    """A 2-colour PNG of hard-edged blocks: tiny as PNG, larger as lossy WebP."""
    im = Image.new("1", (512, 512))
    px = im.load()
    for y in range(512):
        for x in range(512):
            px[x, y] = ((x // 3) ^ (y // 5) ^ (x * y // 97)) & 1
    im.save(path, optimize=True)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ui")
    good = write_jpeg(d / "photo.jpg", 1600, 1200, 1)
    out = {
        "photo.jpg": good,
        "logo.png": write_png(d / "logo.png", 400, 300, 2),
        "empty.jpg": d / "empty.jpg",
        "bomb.png": png_header_only(d / "bomb.png", 60000, 60000),
        "notes.txt": d / "notes.txt",
        "cut.jpg": d / "cut.jpg",
        "sharp.png": sharp_logo(d / "sharp.png"),
    }
    out["empty.jpg"].write_bytes(b"")
    out["notes.txt"].write_text("not an image\n")
    out["cut.jpg"].write_bytes(good.read_bytes()[:5000])
    return out


@pytest.fixture(scope="module")
def ui(browser, server_url):
    """One booted page (2 workers) whose CSP lets a test inject axe-core."""
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    app = AppPage.open(context, server_url, "?workers=2")
    # Playwright turns on file-chooser interception lazily, with a message it does not wait
    # for: a key press sent right after `expect_file_chooser` can beat it, and the chooser
    # then opens unseen. A listener from the start keeps interception on for the module.
    app.page.on("filechooser", lambda _chooser: None)
    app.page.wait_for_function("document.querySelector('#status').textContent.startsWith('Ready')",
                               timeout=120_000)
    yield app
    assert app.console_errors == []
    context.close()


def counts(page) -> dict:
    return page.evaluate("({...window.imgpool.ui.tally.counts})")


def shown_counts(page) -> dict:
    return {el.get_attribute("data-count"): int(el.text_content())
            for el in page.query_selector_all("[data-count]")}


def wait_idle(page, added: int) -> None:
    page.wait_for_function(
        "n => { const t = window.imgpool.ui.tally; return t.counts.added === n && t.active === 0; }",
        arg=added, timeout=180_000)


def _last_done(app: AppPage):
    """The page's latest task_done, typed."""
    return [e for e in app.client.events() if isinstance(e.event, TaskDone)][-1]


def clear(page) -> None:
    if not page.is_disabled("#clear-done"):
        page.click("#clear-done")


def set_field(page, name: str, value: str) -> None:
    page.fill(f"#opt-{name}", value)
    page.dispatch_event(f"#opt-{name}", "change")


def row(page, name: str):
    return page.locator("#results li.row", has=page.locator(".name", has_text=name))


# ---- numbers that add up ----------------------------------------------------------------

def test_counts_add_up_with_refused_and_skipped_files(ui, files):
    page = ui.page
    clear(page)
    assert page.text_content("#status").startswith("Ready: 2 workers")
    names = ["photo.jpg", "logo.png", "empty.jpg", "bomb.png", "notes.txt", "cut.jpg"]
    page.set_input_files("#file-input", [str(files[n]) for n in names])
    wait_idle(page, len(names))
    c = counts(page)
    assert c == {"added": 6, "queued": 0, "running": 0, "done": 2, "failed": 3,
                 "cancelled": 0, "skipped": 1}
    assert sum(c[k] for k in COUNT_KEYS) == c["added"]
    assert shown_counts(page) == c                       # the page shows the same numbers
    assert page.is_disabled("#cancel-all")               # nothing left to cancel
    assert page.get_attribute("#overall", "value") == "6"
    assert "6 of 6 files finished" in page.text_content("#overall-text")
    assert "smaller" in page.text_content("#overall-text")
    assert page.text_content("#status").startswith("Finished: 2 done, 3 failed, 0 cancelled, 1 skipped")
    assert row(page, "notes.txt").locator(".badge").text_content() == "Skipped"
    assert "% smaller" in row(page, "photo.jpg").locator(".line").text_content()
    # never "100% smaller" while a byte is left, nor "0%" for a real change
    assert page.evaluate("import('/page/format.js').then((m) => [m.fmtChange(8880000, 41000),"
                         " m.fmtChange(1000, 999), m.fmtChange(1000, 1000), m.fmtChange(1000, 1004),"
                         " m.plural(1, 'file'), m.plural(3, 'file')])") == \
        ["99% smaller", "1% smaller", "same size", "1% larger", "1 file", "3 files"]
    shot(page, "failed-batch")

    page.click("#clear-done")
    assert counts(page)["added"] == 0 and shown_counts(page)["done"] == 0
    assert page.locator("#results li.row").count() == 0
    assert page.is_disabled("#clear-done")


def test_failures_read_in_plain_words_with_details_behind_a_toggle(ui, files):
    page = ui.page
    clear(page)
    page.set_input_files("#file-input", [str(files[n]) for n in ("empty.jpg", "bomb.png", "cut.jpg")])
    wait_idle(page, 3)
    for name, words in [("empty.jpg", "empty"), ("bomb.png", "too big"), ("cut.jpg", "")]:
        r = row(page, name)
        line = r.locator(".line").text_content()
        assert words in line, line
        assert not any(j in line for j in JARGON), line
        toggle = r.get_by_role("button", name=f"Details for {name}")
        assert toggle.get_attribute("aria-expanded") == "false"
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(toggle).to_be_focused()
        expect(r.locator(".detail")).to_contain_text("reason:")     # the technical detail
    assert "max_pixels" in row(page, "bomb.png").locator(".detail").text_content()


# ---- settings that apply ----------------------------------------------------------------

def test_invalid_settings_block_adding_and_show_every_error(ui, files):
    page = ui.page
    clear(page)
    set_field(page, "quality", "500")
    set_field(page, "effort", "99")
    assert page.text_content("#opt-quality-error") == \
        "Quality must be a whole number from 1 to 100, not “500”."   # the label, in words
    assert "0 to 9" in page.text_content("#opt-effort-error")       # both errors, each beside its field
    set_field(page, "target_size", "0KB")
    assert page.text_content("#opt-target_size-error") == \
        "Target size must be at least 1 byte, not “0KB”."
    set_field(page, "target_size", "")
    assert page.get_attribute("#opt-quality", "aria-invalid") == "true"
    assert page.is_disabled("#choose-files") and page.is_disabled("#choose-folder")
    before = len(ui.client.events())
    page.set_input_files("#file-input", [str(files["photo.jpg"])])
    assert "not added" in page.text_content("#status")
    page.wait_for_timeout(500)
    assert counts(page)["added"] == 0
    assert len(ui.client.events()) == before  # nothing reached Python
    set_field(page, "quality", "40")
    set_field(page, "effort", "4")
    assert page.text_content("#opt-quality-error") == ""
    assert not page.is_disabled("#choose-files")
    page.set_input_files("#file-input", [str(files["photo.jpg"])])
    wait_idle(page, 1)
    assert _last_done(ui).name == "photo.jpg"
    set_field(page, "quality", "80")


def test_form_defaults_come_from_options(ui):
    page = ui.page
    assert page.input_value("#opt-format") == "webp"
    assert page.get_attribute("#opt-quality", "max") == "100"
    assert page.is_checked("#opt-keep_original_if_larger")
    html = (Path(__file__).resolve().parents[2] / "web" / "index.html").read_text()
    assert 'name="quality"' not in html and "2048" not in html


def test_keep_original_is_on_by_default_and_can_be_turned_off(ui, files):
    page = ui.page
    clear(page)
    size = files["sharp.png"].stat().st_size
    page.set_input_files("#file-input", [str(files["sharp.png"])])
    wait_idle(page, 1)
    done = _last_done(ui)
    assert done.event.result.format == "png" and done.event.result.out_bytes == size
    assert "Kept the original" in row(page, "sharp.png").locator(".line").text_content()
    assert ui.output_bytes(done.task_id) == files["sharp.png"].read_bytes()
    page.uncheck("#opt-keep_original_if_larger")
    page.set_input_files("#file-input", [str(files["sharp.png"])])
    wait_idle(page, 2)
    result = _last_done(ui).event.result
    assert result.format == "webp" and result.out_bytes > size
    assert "larger" in row(page, "sharp.png").last.locator(".line").text_content()
    page.check("#opt-keep_original_if_larger")


# ---- every person: keyboard, names, phone width, axe ------------------------------------

def test_keyboard_reaches_the_pickers_and_the_drop_zone_opens_one(ui):
    page = ui.page
    page.bring_to_front()  # keys go to the focused page: other tests' pages share the browser
    page.focus("#dropzone")
    assert page.evaluate("document.activeElement.id") == "dropzone"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert chooser.value.is_multiple()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "choose-files"
    with page.expect_file_chooser():
        page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "choose-folder"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"                                  # focus is visible


def test_controls_are_named_after_their_file(ui, files):
    page = ui.page
    clear(page)
    page.set_input_files("#file-input", [str(files["photo.jpg"]), str(files["logo.png"])])
    wait_idle(page, 2)
    # A shown row gets its download link in the page's next idle moment (lazyblob.js).
    expect(page.get_by_role("link", name="Download photo.webp")).to_have_count(1)
    expect(page.get_by_role("link", name="Download logo.webp")).to_have_count(1)
    expect(page.get_by_role("button", name="Compare before and after: photo.jpg")).to_have_count(1)
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download photo.webp").click()
    with Image.open(dl.value.path()) as im:
        assert im.format == "WEBP" and im.size == (1600, 1200)


def axe_violations(page) -> list[dict]:
    axe = Path(__file__).resolve().parents[2] / "wasm" / "node_modules" / "axe-core" / "axe.min.js"
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(content=axe.read_text())
    found = page.evaluate("async () => (await axe.run(document)).violations"
                          ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))")
    return [v for v in found if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_nothing_serious_and_nothing_scrolls_sideways(ui, files, width):
    page = ui.page
    page.set_viewport_size({"width": width, "height": 900})
    try:
        if counts(page)["added"] == 0:
            page.set_input_files("#file-input", [str(files[n]) for n in ("photo.jpg", "empty.jpg")])
            wait_idle(page, 2)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert axe_violations(page) == []
        shot(page, "desktop" if width > 600 else "phone-390")
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def box(locator) -> dict:
    return locator.evaluate("e => e.getBoundingClientRect().toJSON()")


def test_on_a_phone_a_failure_reads_whole_and_its_details_stay_in_its_row(ui, files):
    page = ui.page
    clear(page)
    page.set_viewport_size({"width": 390, "height": 900})
    try:
        page.set_input_files("#file-input", [str(files["cut.jpg"]), str(files["photo.jpg"])])
        wait_idle(page, 2)
        r = row(page, "cut.jpg")
        line = r.locator(".line")
        assert "cut short" in line.text_content()
        assert line.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight")
        r.get_by_role("button", name="Details for cut.jpg").click()
        detail, toggle = r.locator(".detail"), r.locator("button[data-action=details]")
        expect(detail).to_contain_text("reason:")
        assert box(detail)["top"] >= box(toggle)["bottom"]         # below the button, not over it
        assert box(detail)["bottom"] <= box(r)["bottom"] + 0.5      # not over the next row
        assert axe_violations(page) == []     # the open toggle's name starts "Hide details"
        shot(page, "phone-390-failure")
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_dark_theme_passes_axe(browser, server_url, files):
    context = browser.new_context(bypass_csp=True, color_scheme="dark",
                                  viewport={"width": 1280, "height": 900})
    try:
        app = AppPage.open(context, server_url, "?workers=1")
        app.page.set_input_files("#file-input", [str(files["logo.png"]), str(files["cut.jpg"])])
        wait_idle(app.page, 2)
        bg = app.page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        assert bg == "rgb(20, 23, 28)"
        assert axe_violations(app.page) == []
        shot(app.page, "dark")
    finally:
        context.close()


# ---- care: drops anywhere, leaving with unsaved results ---------------------------------

DROP_JS = """async ([b64, name, x, y]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type: 'image/jpeg' }));
  const target = document.elementFromPoint(x, y);
  for (const type of ['dragenter', 'dragover', 'drop']) {
    const ev = new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true,
                                     clientX: x, clientY: y });
    target.dispatchEvent(ev);
    if (type === 'drop') return { prevented: ev.defaultPrevented, tag: target.tagName };
  }
}"""


def test_a_drop_outside_the_zone_is_taken_not_opened(ui, files):
    import base64
    page = ui.page
    clear(page)
    url = page.url
    b64 = base64.b64encode(files["photo.jpg"].read_bytes()).decode()
    box = page.locator("#workers").bounding_box()       # far from the drop zone
    res = page.evaluate(DROP_JS, [b64, "dropped.jpg", box["x"] + 2, box["y"] + 2])
    assert res["prevented"] is True
    wait_idle(page, 1)
    assert page.url == url
    assert row(page, "dropped.jpg").locator(".badge").text_content() == "Done"


def test_leaving_with_unsaved_results_asks_first(ui, browser, server_url, files):
    context = browser.new_context()
    try:
        app = AppPage.open(context, server_url, "?workers=1")
        page = app.page
        with page.expect_event("close"):                 # nothing to lose: no question
            page.close(run_before_unload=True)
        app = AppPage.open(context, server_url, "?workers=1")
        page = app.page
        page.set_input_files("#file-input", [str(files["logo.png"])])
        wait_idle(page, 1)
        page.click("body")                                  # a user gesture arms beforeunload
        asked = []
        page.on("dialog", lambda d: (asked.append(d.type), d.dismiss()))
        page.close(run_before_unload=True)
        page.wait_for_timeout(500)
        assert asked == ["beforeunload"]
        assert not page.is_closed()
    finally:
        context.close()


# ---- the pool panel in words ------------------------------------------------------------

def test_pool_panel_says_what_each_worker_does(open_app, tmp_path):
    stuck = write_jpeg(tmp_path / "stuck.jpg", 320, 240, 7)
    app = open_app("?workers=1&debug=1&hang=stuck.jpg&timeout_s=2")
    page = app.page
    page.wait_for_function("document.querySelector('#workers').textContent.includes('Worker 1: ready')")
    page.set_input_files("#file-input", [str(stuck)])
    page.wait_for_function("document.querySelector('#workers').textContent.includes('working on stuck.jpg')")
    page.wait_for_function("document.querySelector('#workers').textContent.includes('replaced after it got stuck')",
                           timeout=60_000)
    wait_idle(page, 1)
    assert "took too long" in row(page, "stuck.jpg").locator(".line").text_content()
    # Cancelled while it hangs: the worker is replaced to stop it, and says so (the
    # person cancelled; nothing "got stuck").
    again = write_jpeg(tmp_path / "again" / "stuck.jpg", 320, 240, 8)
    page.set_input_files("#file-input", [str(again)])
    page.wait_for_function("document.querySelector('#workers').textContent.includes('working on stuck.jpg')")
    page.click("#cancel-all")
    page.wait_for_function(
        "document.querySelector('#workers').textContent.includes('restarted to stop a cancelled file')",
        timeout=60_000)
    assert "stuck" not in page.text_content("#workers")
    # the summary does not pass a cancelled file off as a result
    assert "2 of 2 files finished (1 cancelled)" in page.text_content("#overall-text")


def test_libvips_warnings_reach_the_console_without_terminal_colour_codes(ui, files):
    page = ui.page
    clear(page)
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text))    # workers' console too
    page.set_input_files("#file-input", [str(files["cut.jpg"])])
    wait_idle(page, 1)
    page.wait_for_timeout(300)
    vips = [m for m in seen if m.startswith("[vips]")]
    assert vips, "a truncated JPEG makes libvips warn"
    assert not any("\x1b" in m for m in vips), vips
    assert all(m.strip() != "[vips]" for m in vips)              # no empty lines left over


# ---- settings that travel: presets and links; re-run -------------------------------------

def test_presets_are_kept_in_the_browser_and_links_carry_settings(browser, server_url):
    context = browser.new_context()
    try:
        app = AppPage.open(context, server_url, "?workers=1")
        page = app.page
        page.select_option("#opt-format", "avif")
        set_field(page, "quality", "55")
        page.fill("#preset-name", "small avif")
        page.click("#preset-save")
        page.click("#settings-link-make")
        link = page.input_value("#settings-link")
        assert "format=avif" in link and "quality=55" in link
        # A new page opened from the link shows those settings; the preset is still there.
        other = AppPage.open(context, server_url, link[len(server_url):])
        assert other.page.input_value("#opt-format") == "avif"
        assert other.page.input_value("#opt-quality") == "55"
        set_field(other.page, "quality", "80")
        other.page.select_option("#opt-format", "webp")
        other.page.select_option("#preset-select", "small avif")
        assert other.page.input_value("#opt-quality") == "55"
        assert other.page.input_value("#opt-format") == "avif"
    finally:
        context.close()


def test_rerun_uses_the_new_settings_without_choosing_the_files_again(ui, files):
    page = ui.page
    clear(page)
    page.set_input_files("#file-input", [str(files["photo.jpg"]), str(files["logo.png"])])
    wait_idle(page, 2)
    page.select_option("#opt-format", "jpeg")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("#rerun")                  # two results not saved: it asks, and "no" keeps them
    assert asked and "replaces 2 results not saved yet" in asked[0]
    assert counts(page)["added"] == 2 and page.locator("#results li.row").count() == 2
    for _ in range(2):                    # re-run twice: never a pile of old rows and copies
        page.once("dialog", lambda d: d.accept())
        page.click("#rerun")
        wait_idle(page, 2)
    assert page.locator("#results li.row").count() == 2
    assert page.evaluate("window.imgpool.ui.results.size") == 2  # one result per file, zipped
    done = [e for e in ui.client.events() if isinstance(e.event, TaskDone)][-2:]
    assert sorted(d.name for d in done) == ["logo.png", "photo.jpg"]
    photo = next(d for d in done if d.name == "photo.jpg")
    assert photo.event.result.format == "jpeg"
    with Image.open(io.BytesIO(ui.output_bytes(photo.task_id))) as im:
        assert im.format == "JPEG" and im.size == (1600, 1200)
    page.select_option("#opt-format", "webp")


def test_a_picked_folder_keeps_its_paths_and_skips_what_is_not_an_image(ui, files, tmp_path):
    page = ui.page
    clear(page)
    root = tmp_path / "trip"
    (root / "day 1").mkdir(parents=True)
    (root / "day 1" / "photo.jpg").write_bytes(files["photo.jpg"].read_bytes())
    (root / "day 1" / "notes.txt").write_text("packing list\n")
    (root / "readme.md").write_text("# trip\n")
    page.set_input_files("#folder-input", str(root))
    wait_idle(page, 3)
    c = counts(page)
    assert (c["added"], c["done"], c["skipped"], c["failed"]) == (3, 1, 2, 0)
    expect(page.get_by_role("link", name="Download trip/day 1/photo.webp")).to_have_count(1)
    assert row(page, "trip/day 1/notes.txt").locator(".badge").text_content() == "Skipped"
