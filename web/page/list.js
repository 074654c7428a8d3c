// The results list, virtualised: 10,000 files cost 10,000 small records, and the DOM
// holds only the rows in view (plus a few either side), whatever the batch size.
//
// Rows have one height (the CSS variable --row-h, taller on a phone), except a row whose
// details are open, which is taller by a fixed amount (--detail-h; --set-detail-h for a
// responsive set's files); a row's top is then index * ROW_H + the extra heights of the
// open rows above it (prefix sums), found with a binary search, so scrolling never walks
// all rows. A row's DOM is rebuilt
// only when what it shows changed (its `version`); live progress updates one attribute.

const OVERSCAN = 6;

export function createList(box, { renderRow, onAction }) {
  const inner = document.createElement("ul");
  inner.className = "rows";
  box.append(inner);
  const items = []; // records in display order
  const index = new Map(); // id -> position in items
  const shown = new Map(); // id -> { li, version }
  let open = []; // sorted positions of rows whose details are open
  let extra = [0]; // extra[k]: the added height of open[0..k-1]
  let scheduled = false;
  let ROW_H = 64;
  let DETAIL_H = 88;
  let SET_DETAIL_H = 216;
  function measure() { // row heights live in the CSS (app.css), read on resize
    const style = getComputedStyle(box);
    ROW_H = parseFloat(style.getPropertyValue("--row-h")) || ROW_H;
    DETAIL_H = parseFloat(style.getPropertyValue("--detail-h")) || DETAIL_H;
    SET_DETAIL_H = parseFloat(style.getPropertyValue("--set-detail-h")) || SET_DETAIL_H;
    sumOpen();
  }
  function sumOpen() {
    extra = [0];
    for (const pos of open) extra.push(extra[extra.length - 1] + (items[pos].set ? SET_DETAIL_H : DETAIL_H));
  }

  const openAbove = (pos) => { // open rows strictly above `pos`
    let lo = 0, hi = open.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (open[mid] < pos) lo = mid + 1; else hi = mid; }
    return lo;
  };
  const top = (pos) => pos * ROW_H + extra[openAbove(pos)];
  const totalHeight = () => top(items.length);
  function firstAt(y) { // the row covering height y
    let lo = 0, hi = Math.max(0, items.length - 1);
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (top(mid) <= y) lo = mid; else hi = mid - 1; }
    return lo;
  }

  function render() {
    scheduled = false;
    inner.style.height = `${totalHeight()}px`;
    box.classList.toggle("empty", items.length === 0);
    const from = Math.max(0, firstAt(box.scrollTop) - OVERSCAN);
    const to = Math.min(items.length, firstAt(box.scrollTop + box.clientHeight) + 1 + OVERSCAN);
    const keep = new Set();
    for (let pos = from; pos < to; pos++) {
      const item = items[pos];
      keep.add(item.id);
      let entry = shown.get(item.id);
      if (!entry) {
        const li = document.createElement("li");
        li.dataset.id = item.id;
        entry = { li, version: -1 };
        shown.set(item.id, entry);
        inner.append(li);
      }
      const { li } = entry;
      li.style.transform = `translateY(${top(pos)}px)`;
      li.setAttribute("aria-posinset", pos + 1);
      li.setAttribute("aria-setsize", items.length);
      if (entry.version !== item.version) {
        entry.version = item.version;
        // A rebuilt row keeps keyboard focus on the same control (e.g. "Details").
        const focused = li.contains(document.activeElement) && document.activeElement.dataset.action;
        renderRow(item, li);
        if (focused) li.querySelector(`[data-action="${focused}"]`)?.focus();
      }
    }
    for (const [id, entry] of shown) {
      if (!keep.has(id)) {
        if (entry.li.contains(document.activeElement)) continue; // never yank focus away
        entry.li.remove();
        shown.delete(id);
      }
    }
  }
  const schedule = () => {
    if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
  };
  box.addEventListener("scroll", schedule, { passive: true });
  new ResizeObserver(() => { measure(); schedule(); }).observe(box);
  inner.addEventListener("click", (e) => {
    const button = e.target.closest("[data-action]");
    if (!button || !inner.contains(button)) return;
    const id = Number(button.closest("li").dataset.id);
    onAction(button.dataset.action, id, button, e);
  });

  function reindex() {
    index.clear();
    items.forEach((item, pos) => index.set(item.id, pos));
    open = items.flatMap((item, pos) => (item.expanded ? [pos] : []));
    sumOpen();
  }

  return {
    items,
    get(id) { const pos = index.get(id); return pos === undefined ? null : items[pos]; },
    add(item) {
      item.version = 0;
      index.set(item.id, items.length);
      items.push(item);
      schedule();
      return item;
    },
    // Call after changing what a row shows.
    changed(item) {
      item.version += 1;
      if (shown.has(item.id)) schedule();
    },
    setExpanded(item, expanded) {
      item.expanded = expanded;
      reindex();
      this.changed(item);
      schedule();
    },
    remove(ids) {
      const gone = new Set(ids);
      for (const id of gone) {
        const entry = shown.get(id);
        if (entry) { entry.li.remove(); shown.delete(id); }
      }
      const left = items.filter((item) => !gone.has(item.id));
      items.length = 0;
      items.push(...left);
      reindex();
      schedule();
    },
    // Whether the row of `id` is in view or within a screen of it: its list thumbnail is
    // worth making while the image is decoded (ui.js); further rows get theirs when shown.
    near(id) {
      const pos = index.get(id);
      if (pos === undefined) return false;
      const screen = box.clientHeight || ROW_H * 10;
      return pos >= firstAt(box.scrollTop - screen) &&
             pos <= firstAt(box.scrollTop + 2 * screen);
    },
    // Rows in the DOM now (the live progress loop updates only these).
    visible: () => [...shown.keys()].map((id) => items[index.get(id)]).filter(Boolean),
    rowElement: (id) => (shown.get(id) || {}).li || null,
    scrollTo(id) {
      const pos = index.get(id);
      if (pos !== undefined) box.scrollTop = top(pos);
      render();
    },
    render,
  };
}
