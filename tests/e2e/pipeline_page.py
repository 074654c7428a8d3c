"""Driving the page for pipeline tests: set the options a batch is made with, add a batch,
find each file's task.

Options go in through the options form, the way a person sets them: the page takes the
form's values for every file it adds (`window.imgpool.setOptions` alone is overridden by
the form), so options the form has no control for are added to it as hidden inputs.
"""

from __future__ import annotations

from pathlib import Path

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

TASK_IDS_JS = "() => [...new Set(window.imgpool.events.filter(e => e.task_id != null).map(e => e.task_id))]"


def set_options(app: AppPage, options: dict) -> None:
    """Options for the files added next (the form's defaults for anything not given)."""
    error = app.page.evaluate(SET_FORM_JS, options)
    assert not error, f"options {options} rejected: {error}"


def add_batch(app: AppPage, paths: list[Path], options: dict | None = None,
              timeout_ms: int = 60_000) -> dict[str, int]:
    """Add `paths` with `options`; return file name -> task id (names must be unique)."""
    if options is not None:
        set_options(app, options)
    before = set(app.page.evaluate(TASK_IDS_JS))
    app.add_files(paths)
    app.page.wait_for_function(
        f"n => ({TASK_IDS_JS})().length >= n", arg=len(before) + len(paths),
        timeout=timeout_ms)
    names = {}
    for e in app.events():
        tid = e.get("task_id")
        if tid is not None and tid not in before and "name" in e:
            names.setdefault(e["name"], tid)
    assert len(names) == len(paths), (names, [p.name for p in paths])
    return names


def terminal_events(app: AppPage) -> dict[int, dict]:
    return {e["task_id"]: e for e in app.events()
            if e["type"] in ("task_done", "task_failed", "task_cancelled")}


def wait_tasks(app: AppPage, task_ids, timeout_ms: int = 180_000) -> dict[int, dict]:
    """Wait until every task in `task_ids` has ended; return their terminal events."""
    ids = sorted(set(task_ids))
    app.page.wait_for_function(
        """ids => { const ended = new Set(window.imgpool.events
                      .filter(e => ['task_done', 'task_failed', 'task_cancelled'].includes(e.type))
                      .map(e => e.task_id));
                    return ids.every(i => ended.has(i)); }""", arg=ids, timeout=timeout_ms)
    ended = terminal_events(app)
    return {i: ended[i] for i in ids}
