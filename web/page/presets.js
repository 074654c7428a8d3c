// Settings that travel: named presets kept in this browser (localStorage), and a link
// that carries the form's values in its #fragment (never sent to a server), so settings
// can be shared. Values go through the form, so Python checks them like typed ones.

const STORE_KEY = "imgpool.presets";

function load() {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
  } catch {
    return {};
  }
}

export function createPresets(root, settings) {
  const select = root.querySelector("#preset-select");
  const nameInput = root.querySelector("#preset-name");
  const linkOut = root.querySelector("#settings-link");

  function fill() {
    const presets = load();
    select.textContent = "";
    select.append(new Option("Choose a preset…", ""));
    for (const name of Object.keys(presets).sort()) select.append(new Option(name, name));
    root.querySelector("#preset-delete").disabled = true;
  }

  select.addEventListener("change", () => {
    const values = load()[select.value];
    root.querySelector("#preset-delete").disabled = !values;
    if (values) settings.apply(values);
  });
  root.querySelector("#preset-save").addEventListener("click", () => {
    const name = nameInput.value.trim();
    if (!name || !settings.valid) return;
    const presets = load();
    presets[name] = settings.values();
    localStorage.setItem(STORE_KEY, JSON.stringify(presets));
    nameInput.value = "";
    fill();
    select.value = name;
  });
  root.querySelector("#preset-delete").addEventListener("click", () => {
    const presets = load();
    delete presets[select.value];
    localStorage.setItem(STORE_KEY, JSON.stringify(presets));
    fill();
  });
  root.querySelector("#settings-link-make").addEventListener("click", async () => {
    const url = new URL(location.href);
    url.hash = new URLSearchParams(settings.values()).toString();
    history.replaceState(null, "", url);
    linkOut.value = url.href;
    linkOut.hidden = false;
    linkOut.select();
    try {
      await navigator.clipboard.writeText(url.href);
    } catch {
      // no clipboard permission: the link is shown selected for the person to copy
    }
  });
  fill();

  return {
    // Settings from a shared link's #fragment, once the form exists.
    applyFromLink() {
      const hash = location.hash.slice(1);
      if (hash) settings.apply(Object.fromEntries(new URLSearchParams(hash)));
    },
  };
}
