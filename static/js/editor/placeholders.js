// Placeholders typed into a text field: "{{" opens the outputs the card may use (the Map output
// list, filtered by what follows), and the placeholders in the field are shown under it by name.

import { h } from "./dom.js";
import { PLACEHOLDER } from "./labels.js";
import { closeMapMenu, matches, openSuggestions, suggestionsOf } from "./mapmenu.js";

// An unclosed "{{" before the caret, and what has been typed after it.
const OPENING = /\{\{([^{}]*)$/;

/** Puts `text` in place of control.value[start:end] the way typing does, so the browser can undo it. */
export function typeInto(control, text, start, end) {
  control.focus();
  control.setSelectionRange(start, end);
  let done = false;
  try {
    done = document.execCommand("insertText", false, text);
  } catch {
    done = false;
  }
  if (!done || control.value.slice(start, start + text.length) !== text) {
    control.setRangeText(text, start, end, "end");
    control.dispatchEvent(new Event("input", { bubbles: true }));
  }
}

/**
 * Makes typing "{{" in `control` (a text input or textarea) suggest `choices()`, the outputs the
 * card may use as [{ref, label, stepLabel, type, sample}]. Enter or Tab inserts {{ref}}.
 */
export function suggestPlaceholders(control, choices) {
  const combobox = control.tagName === "INPUT";
  if (combobox) {
    control.setAttribute("role", "combobox");
    control.setAttribute("aria-expanded", "false");
  }
  control.setAttribute("aria-autocomplete", "list");
  let dismissed = -1; // where the "{{" closed with Escape starts: it does not open again

  const opening = () => {
    const caret = control.selectionStart ?? control.value.length;
    if (control.selectionEnd !== caret) return null;
    const found = control.value.slice(0, caret).match(OPENING);
    return found ? { start: caret - found[0].length, end: caret, query: found[1].trim() } : null;
  };

  const refresh = () => {
    const at = opening();
    const shown = at && at.start !== dismissed ? choices().filter((choice) => matches(choice, at.query)) : [];
    if (!shown.length) {
      if (suggestionsOf(control)) closeMapMenu({ restoreFocus: false });
      return;
    }
    const suggestions = suggestionsOf(control);
    if (suggestions) return suggestions.update(shown);
    openSuggestions(control, {
      title: "Insert a placeholder",
      choices: shown,
      onPick: (choice) => {
        const now = opening();
        if (!now) return;
        const token = `{{${choice.ref}}}`;
        // A "}}" already typed after the caret closes the placeholder inserted.
        const end = control.value.startsWith("}}", now.end) ? now.end + 2 : now.end;
        typeInto(control, token, now.start, end);
        control.setSelectionRange(now.start + token.length, now.start + token.length);
      },
      onClose: () => {
        control.removeAttribute("aria-activedescendant");
        control.removeAttribute("aria-controls");
      },
    });
  };

  control.addEventListener("input", () => {
    const at = opening();
    if (!at || at.start !== dismissed) dismissed = -1;
    refresh();
  });
  control.addEventListener("keydown", (event) => {
    const suggestions = suggestionsOf(control);
    if (!suggestions || event.isComposing) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      suggestions.move(event.key === "ArrowDown" ? 1 : -1);
    } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey) {
      event.preventDefault();
      suggestions.pick();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      dismissed = opening()?.start ?? -1;
      closeMapMenu({ restoreFocus: false });
    }
  });
  control.addEventListener("blur", () => {
    if (suggestionsOf(control)) closeMapMenu({ restoreFocus: false });
  });
}

/** The distinct references named by {{placeholders}} in `text`. */
export function placeholderRefs(text) {
  if (typeof text !== "string") return [];
  return [...new Set(Array.from(text.matchAll(PLACEHOLDER), (found) => found[1]))];
}

/**
 * "Uses: New Response › Email Address" under a field, rebuilt from `text`; `describe(ref)` gives
 * {stepLabel, label, missing}. Unknown placeholders are struck out and explained.
 */
export function renderUses(line, text, describe) {
  const refs = placeholderRefs(text);
  line.hidden = !refs.length;
  if (!refs.length) return line.replaceChildren();
  const described = refs.map((ref) => ({ ref, ...describe(ref) }));
  const missing = described.filter((d) => d.missing);
  line.replaceChildren(
    h("span", { class: "uses-title", text: "Uses:" }),
    ...described.map((d) =>
      h(
        "span",
        { class: ["chip", "mapped", "uses-chip", `type-${d.type || "text"}`, d.missing && "missing"], title: `{{${d.ref}}}` },
        h("span", { class: "chip-step", text: d.stepLabel }),
        h("span", { class: "chip-label", text: d.label }),
        d.missing ? h("span", { class: "visually-hidden", text: " (not available here)" }) : null,
      ),
    ),
    missing.length
      ? h("span", {
          class: "uses-warning",
          text: `⚠ ${missing.map((d) => `“{{${d.ref}}}”`).join(", ")} ${missing.length === 1 ? "is" : "are"} not available here: a placeholder must name an output of the event or of a card above this one.`,
        })
      : null,
  );
  line.classList.toggle("has-missing", missing.length > 0);
}
