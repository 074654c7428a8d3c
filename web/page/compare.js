// The before/after view: a modal dialog with a slider or side-by-side comparison, "Fit"
// and "1:1", zoom (buttons, wheel) and pan (drag, arrow keys) kept in sync on both
// sides, and the sizes beside it.
//
// Both images are laid out at the result's pixel size, so the original (often larger)
// is scaled to the same box and the two line up; "1:1" is one result pixel per CSS
// pixel. The original is shown from the File the person gave (the browser decodes it);
// the formats a browser cannot show (HEIC, TIFF, JPEG XL) say so instead.

import { fmtBytes, fmtChange } from "./format.js";
import { describePsnr, psnr } from "./quality.js";

const ZOOM_STEP = 1.25;
const PAN_STEP = 40;

export function createCompare(dialog) {
  const q = (sel) => dialog.querySelector(sel);
  const stage = q(".stage");
  const before = q("img.before");
  const after = q("img.after");
  const divider = q("input.divider");
  let view = { scale: 1, x: 0, y: 0, width: 1, height: 1 };
  let urls = [];
  let opener = null;
  let drag = null;

  function apply() {
    const { scale, x, y, width, height } = view;
    for (const img of [before, after]) {
      img.style.width = `${width}px`;
      img.style.height = `${height}px`;
      img.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
    }
    q(".zoom-level").textContent = `${Math.round(scale * 100)}%`;
  }

  function fit() {
    const pane = q(".pane").getBoundingClientRect();
    const scale = Math.min(1, pane.width / view.width, pane.height / view.height) || 1;
    view = { ...view, scale, x: (pane.width - view.width * scale) / 2, y: (pane.height - view.height * scale) / 2 };
    apply();
  }

  function zoomAt(factor, cx, cy) {
    const scale = Math.min(16, Math.max(0.05, view.scale * factor));
    const k = scale / view.scale;
    view = { ...view, scale, x: cx - (cx - view.x) * k, y: cy - (cy - view.y) * k };
    apply();
  }
  const centre = () => {
    const r = q(".pane").getBoundingClientRect();
    return [r.width / 2, r.height / 2];
  };

  function setMode(mode) {
    dialog.dataset.mode = mode;
    divider.hidden = mode !== "slider";
    requestAnimationFrame(fit);
  }
  function setDivider() {
    dialog.style.setProperty("--divider", `${divider.value}%`);
  }

  q(".close").addEventListener("click", () => dialog.close());
  q(".fit").addEventListener("click", fit);
  q(".actual").addEventListener("click", () => {
    const [cx, cy] = centre();
    zoomAt(1 / view.scale, cx, cy);
  });
  q(".zoom-in").addEventListener("click", () => zoomAt(ZOOM_STEP, ...centre()));
  q(".zoom-out").addEventListener("click", () => zoomAt(1 / ZOOM_STEP, ...centre()));
  for (const radio of dialog.querySelectorAll("input[name=compare-mode]")) {
    radio.addEventListener("change", () => setMode(radio.value));
  }
  divider.addEventListener("input", setDivider);
  stage.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = e.target.closest(".pane").getBoundingClientRect();
    zoomAt(e.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  stage.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX - view.x, y: e.clientY - view.y };
    stage.setPointerCapture(e.pointerId);
  });
  stage.addEventListener("pointermove", (e) => {
    if (!drag) return;
    view = { ...view, x: e.clientX - drag.x, y: e.clientY - drag.y };
    apply();
  });
  stage.addEventListener("pointerup", () => { drag = null; });
  stage.addEventListener("keydown", (e) => {
    const moves = { ArrowLeft: [PAN_STEP, 0], ArrowRight: [-PAN_STEP, 0], ArrowUp: [0, PAN_STEP], ArrowDown: [0, -PAN_STEP] };
    if (moves[e.key]) {
      e.preventDefault();
      view = { ...view, x: view.x + moves[e.key][0], y: view.y + moves[e.key][1] };
      apply();
    } else if (e.key === "+" || e.key === "=") zoomAt(ZOOM_STEP, ...centre());
    else if (e.key === "-") zoomAt(1 / ZOOM_STEP, ...centre());
  });
  dialog.addEventListener("close", () => {
    urls.forEach((u) => URL.revokeObjectURL(u));
    urls = [];
    before.removeAttribute("src");
    after.removeAttribute("src");
    if (opener && opener.isConnected) opener.focus();
  });

  return {
    // item: the list record; result: { blob, name, width, height, format }.
    open(item, result, openerEl) {
      if (!result) return;
      opener = openerEl || null;
      const r = item.result || {};
      view = { scale: 1, x: 0, y: 0, width: result.width || 1, height: result.height || 1 };
      after.src = URL.createObjectURL(result.blob);
      urls.push(after.src);
      const missing = q(".before-missing");
      missing.hidden = true;
      if (item.file) {
        before.src = URL.createObjectURL(item.file);
        urls.push(before.src);
        before.onerror = () => { missing.hidden = false; };
      } else {
        missing.hidden = false;
      }
      before.alt = `Original: ${item.name}`;
      after.alt = `Result: ${result.name}`;
      q(".compare-title").textContent = item.name;
      q(".before-size").textContent = `Before: ${fmtBytes(item.size)}`;
      q(".after-size").textContent = `After: ${fmtBytes(r.out_bytes)} · ${r.width} × ${r.height} px · ` +
        `${String(r.format || "").toUpperCase()} · ${fmtChange(item.size, r.out_bytes)}`;
      const score = q(".score");
      score.textContent = "";
      // The score once both images are decoded (none when the original cannot be shown).
      Promise.all([before.decode(), after.decode()]).then(
        () => { if (dialog.open) score.textContent = describePsnr(psnr(before, after)); },
        () => {});
      divider.value = 50;
      setDivider();
      dialog.showModal();
      setMode(dialog.dataset.mode || "slider");
    },
    get isOpen() { return dialog.open; },
  };
}
