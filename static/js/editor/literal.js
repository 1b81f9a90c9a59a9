// Typed widgets for literal values: text, number, true/false, date, JSON, file name, choices.

import { uploadFile } from "./api.js";
import { h } from "./dom.js";

// Unparsed JSON the person is still typing, so a re-render does not throw it away.
const drafts = new Map();

function placeholderFor(field) {
  if (field.default !== null && field.default !== undefined && field.default !== "") {
    return `Default: ${typeof field.default === "object" ? JSON.stringify(field.default) : field.default}`;
  }
  if (field.type === "list") return '["a", "b"]';
  if (field.type === "object") return '{"key": "value"}';
  return "";
}

/**
 * A control for `field` showing `value`. `onChange(value)` receives the typed value (undefined
 * when emptied); JSON that does not parse yet goes to `onInvalid(message)` and keeps the old value.
 */
export function literalControl(field, value, { id, focusKey, disabled, describedBy, onChange, onInvalid, multiline = false }) {
  const common = { id, disabled, dataset: { focus: focusKey }, "aria-describedby": describedBy || null };
  if (field.required) common["aria-required"] = "true";

  if (Array.isArray(field.choices) && field.choices.length) {
    const select = h(
      "select",
      common,
      h("option", { value: "", text: field.required ? "Choose…" : "—" }),
      field.choices.map((c) => h("option", { value: String(c.value), text: c.label ?? String(c.value) })),
    );
    select.value = value === undefined || value === null ? "" : String(value);
    select.addEventListener("change", () => {
      const choice = field.choices.find((c) => String(c.value) === select.value);
      onChange(choice ? choice.value : undefined);
    });
    return select;
  }

  switch (field.type) {
    case "file": {
      // A file is uploaded at once; the card keeps the server's reference to it.
      const picker = h("input", { ...common, type: "file" });
      const label = h("span", { class: "file-name", text: value?.name ? `${value.name} (${Math.ceil((value.size ?? 0) / 1024)} KB)` : "No file chosen" });
      picker.addEventListener("change", async () => {
        const chosen = picker.files?.[0];
        if (!chosen) return;
        label.textContent = `Uploading ${chosen.name}…`;
        try {
          const uploaded = await uploadFile(chosen);
          onInvalid?.(null);
          label.textContent = `${uploaded.name} (${Math.ceil(uploaded.size / 1024)} KB)`;
          onChange(uploaded);
        } catch (error) {
          label.textContent = "Upload failed";
          onInvalid?.(error.body?.detail ?? "The file could not be uploaded.");
        }
      });
      return h("span", { class: "file-input" }, picker, label);
    }
    case "boolean": {
      const box = h("input", { ...common, type: "checkbox", checked: value === undefined ? field.default === true : value === true });
      box.addEventListener("change", () => onChange(box.checked));
      return box;
    }
    case "number": {
      const input = h("input", { ...common, type: "number", step: "any", value: value ?? "", placeholder: placeholderFor(field) });
      input.addEventListener("input", () => onChange(input.value === "" ? undefined : Number(input.value)));
      return input;
    }
    case "date": {
      const input = h("input", { ...common, type: "date", value: typeof value === "string" ? value.slice(0, 10) : "" });
      input.addEventListener("input", () => onChange(input.value || undefined));
      return input;
    }
    case "object":
    case "list": {
      const draftKey = focusKey;
      const text = drafts.get(draftKey) ?? (value === undefined ? "" : JSON.stringify(value, null, 2));
      const area = h("textarea", { ...common, class: "json", rows: "3", spellcheck: "false", value: text, placeholder: placeholderFor(field) });
      area.addEventListener("input", () => {
        if (area.value.trim() === "") {
          drafts.delete(draftKey);
          onInvalid?.(null);
          return onChange(undefined);
        }
        try {
          const parsed = JSON.parse(area.value);
          const wrongShape = field.type === "list" ? !Array.isArray(parsed) : parsed === null || typeof parsed !== "object" || Array.isArray(parsed);
          if (wrongShape) throw new Error("shape");
          drafts.delete(draftKey);
          onInvalid?.(null);
          onChange(parsed);
        } catch {
          drafts.set(draftKey, area.value);
          onInvalid?.(field.type === "list" ? 'Enter a JSON list, e.g. ["a", "b"].' : 'Enter a JSON object, e.g. {"key": "value"}.');
        }
      });
      return area;
    }
    default: {
      const shown = value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
      const control = multiline
        ? h("textarea", { ...common, rows: "4", value: shown, placeholder: placeholderFor(field) })
        : h("input", { ...common, type: "text", value: shown, placeholder: placeholderFor(field), autocomplete: "off" });
      control.addEventListener("input", () => onChange(control.value === "" ? undefined : control.value));
      return control;
    }
  }
}

export function forgetDraft(focusKey) {
  drafts.delete(focusKey);
}

/** After an undo or redo the values come from the restored flow, not from half-typed JSON. */
export function forgetDrafts() {
  drafts.clear();
}
