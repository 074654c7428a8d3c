"""Driving the page for pipeline tests: set the options a batch is made with, add a batch,
find each file's task.

Options go in through the options form, the way a person sets them: the page takes the
form's values for every file it adds (`window.imgpool.setOptions` alone is overridden by
the form), so options the form has no control for are added to it as hidden inputs.
"""

from __future__ import annotations

import time
from pathlib import Path

from imgpool_host.pageclient import DRAIN_WAIT_MS
from imgpool_host.pageevents import PageEvent
from pagehelpers import AppPage

SET_FORM_JS = """(opts) => {
  const form = document.querySelector('#options');
  form.querySelectorAll('input[data-test-option]').forEach((e) => e.remove());
  form.reset();
  for (const [key, value] of Object.entries(opts)) {
    const text = value === null ? '' : String(value);
    const el = form.elements.namedItem(key);
    if (el && el.type === 'checkbox') el.checked = value === true || value === 'true';
    else if (el) el.value = text;
    else {
      const hidden = document.createElement('input');
      hidden.type = 'hidden'; hidden.name = key; hidden.value = text;
      hidden.dataset.testOption = '1';
      form.append(hidden);
    }
  }
  form.dispatchEvent(new Event('change'));
  return document.querySelector('#options-error').textContent;
}"""


def set_options(app: AppPage, options: dict) -> None:
    """Options for the files added next (the form's defaults for anything not given)."""
    error = app.page.evaluate(SET_FORM_JS, options)
    assert not error, f"options {options} rejected: {error}"


def _task_ids(app: AppPage) -> set[int]:
    return {e.task_id for e in app.client.events() if e.task_id is not None}


def add_batch(app: AppPage, paths: list[Path], options: dict | None = None,
              timeout_ms: int = 60_000) -> dict[str, int]:
    """Add `paths` with `options`; return file name -> task id (names must be unique)."""
    if options is not None:
        set_options(app, options)
    before = _task_ids(app)
    app.add_files(paths)
    deadline = time.monotonic() + timeout_ms / 1000
    while len(_task_ids(app) - before) < len(paths):
        assert time.monotonic() < deadline, f"{len(paths)} files were not all taken"
        app.client.drain(wait_ms=DRAIN_WAIT_MS)
    names: dict[str, int] = {}
    for e in app.client.events():
        if e.task_id is not None and e.task_id not in before and e.name is not None:
            names.setdefault(e.name, e.task_id)
    assert len(names) == len(paths), (names, [p.name for p in paths])
    return names


def terminal_events(app: AppPage) -> dict[int, PageEvent]:
    return {e.task_id: e for e in app.client.events() if e.terminal}


def wait_tasks(app: AppPage, task_ids, timeout_ms: int = 180_000) -> dict[int, PageEvent]:
    """Wait until every task in `task_ids` has ended; return their terminal events."""
    ids = sorted(set(task_ids))
    deadline = time.monotonic() + timeout_ms / 1000
    while not set(ids) <= set(ended := terminal_events(app)):
        assert time.monotonic() < deadline, \
            f"tasks {sorted(set(ids) - set(ended))} did not end in {timeout_ms / 1000:.0f} s"
        app.client.drain(wait_ms=DRAIN_WAIT_MS)
    return {i: ended[i] for i in ids}
