// The settings form, built from the schema Python sends at boot (imgpool.page.form):
// names, labels, choices, defaults and limits all come from imgpool.shared.options, so no
// default is written here or in the HTML. Every change is checked by Python
// (imgpool.shared.options.field_errors) and each error is shown beside its own field; while
// any is shown the form is invalid and the page takes no files.

export function createSettingsForm(form, summary, { check, onValidity }) {
  const errors = new Map(); // field name -> message element
  let valid = true;

  function build(schema) {
    form.textContent = "";
    for (const field of schema) {
      const wrap = document.createElement("div");
      wrap.className = `field field-${field.kind}`;
      const id = `opt-${field.name}`;
      let input;
      if (field.kind === "choice") {
        input = document.createElement("select");
        for (const [value, words] of field.choices) {
          const isDefault = value === field.default; // defaultSelected: form.reset() restores it
          const option = new Option(words, value, isDefault, isDefault);
          input.append(option);
        }
      } else {
        input = document.createElement("input");
        if (field.kind === "bool") {
          input.type = "checkbox";
          input.defaultChecked = input.checked = field.default;
        } else if (field.kind === "text") {
          input.type = "text";
          input.placeholder = field.placeholder;
          input.defaultValue = input.value = field.default;
        } else {
          input.type = "number";
          input.inputMode = "numeric";
          input.min = field.min;
          input.max = field.max;
          input.step = 1;
          input.required = !field.optional;
          input.defaultValue = input.value = field.default ?? "";
        }
      }
      input.name = field.name;
      input.id = id;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = field.label;
      const hint = document.createElement("small");
      hint.id = `${id}-hint`;
      hint.className = "hint";
      hint.textContent = field.hint;
      const error = document.createElement("p");
      error.id = `${id}-error`;
      error.className = "field-error";
      error.setAttribute("aria-live", "polite");
      input.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
      errors.set(field.name, error);
      if (field.kind === "bool") wrap.append(input, label, hint, error);
      else wrap.append(label, input, hint, error);
      form.append(wrap);
    }
    validate();
  }

  // The form's values as strings (what a URL or preset would hold).
  function values() {
    const out = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      out[el.name] = el.type === "checkbox" ? String(el.checked) : String(el.value);
    }
    return out;
  }

  function validate() {
    const found = JSON.parse(check(JSON.stringify(values())));
    for (const [name, el] of errors) {
      const message = found[name] || "";
      el.textContent = message;
      form.elements[name].setAttribute("aria-invalid", message ? "true" : "false");
    }
    valid = Object.keys(found).length === 0;
    // One line for all of them too (and for options the form has no field for).
    const n = Object.keys(found).length;
    summary.textContent = n ? `${n === 1 ? "A setting needs" : `${n} settings need`} fixing: ` +
      Object.values(found).join("; ") : "";
    form.classList.toggle("invalid", !valid);
    onValidity(valid);
    return valid;
  }

  form.addEventListener("input", () => validate());
  form.addEventListener("change", () => validate());
  form.addEventListener("submit", (e) => e.preventDefault());

  // Values from a preset or a link: fields the form has are set, then checked.
  function apply(given) {
    for (const [name, value] of Object.entries(given)) {
      const el = form.elements.namedItem(name);
      if (!el) continue;
      if (el.type === "checkbox") el.checked = value === true || value === "true";
      else el.value = String(value);
    }
    return validate();
  }

  return {
    build,
    validate,
    apply,
    values,
    get valid() { return valid; },
    json: () => JSON.stringify(values()),
  };
}
