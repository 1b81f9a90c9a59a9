// "Map output…": a listbox of the outputs a field may use, for keyboard and pointer alike. The
// same options, type-ahead and keys serve the suggestions shown while typing "{{" in a text field.

import { h, uid } from "./dom.js";
import { typeLabel } from "./fieldtypes.js";
import { shortText } from "./steptest.js";

let open = null;
const closeListeners = new Set();

// Marks options[index] (wrapping around) as the active option of a listbox whose focus stays on
// `owner`, unmarks options[previous], and answers the new index.
function markActive(options, previous, index, owner) {
  options[previous]?.setAttribute("aria-selected", "false");
  options[previous]?.classList.remove("active");
  const next = (index + options.length) % options.length;
  options[next].setAttribute("aria-selected", "true");
  options[next].classList.add("active");
  owner.setAttribute("aria-activedescendant", options[next].id);
  options[next].scrollIntoView?.({ block: "nearest" });
  return next;
}

export function isMapMenuOpen() {
  return open !== null;
}

/** Runs `listener` once, when the open menu closes. */
export function whenMapMenuCloses(listener) {
  closeListeners.add(listener);
}

export function closeMapMenu({ restoreFocus = true } = {}) {
  if (!open) return;
  const { menu, button, onOutside, onClose } = open;
  open = null;
  document.removeEventListener("pointerdown", onOutside, true);
  menu.remove();
  if (button.hasAttribute("aria-expanded")) button.setAttribute("aria-expanded", "false");
  onClose?.();
  if (restoreFocus && button.isConnected) button.focus();
  const listeners = [...closeListeners];
  closeListeners.clear();
  for (const listener of listeners) listener();
}

/**
 * Opens a listbox under `button`. `choices` are [{ref, label, stepLabel, type}];
 * `onPick(choice)` runs when one is chosen with Enter, Space or a click.
 */
export function openMapMenu(button, { title, choices, onPick, emptyText = "No earlier outputs to map yet." }) {
  if (open?.button === button) return closeMapMenu();
  closeMapMenu({ restoreFocus: false });
  const listId = uid("map-list");
  const menu = h("div", { class: "map-menu" });
  const heading = h("p", { class: "map-menu-title", id: uid("map-title"), text: title });
  menu.append(heading);

  if (!choices.length) {
    menu.append(h("p", { class: "muted map-menu-empty", text: emptyText }));
    const closeButton = h("button", { type: "button", class: "button small", text: "Close", onclick: () => closeMapMenu() });
    menu.append(closeButton);
    place(button, menu);
    closeButton.focus();
    return;
  }

  const list = h("ul", { role: "listbox", id: listId, tabindex: "0", class: "map-menu-list", "aria-labelledby": heading.id });
  const options = choices.map((choice, index) => optionElement(choice, `${listId}-${index}`));
  list.append(...options);
  menu.append(list, h("p", { class: "map-menu-hint muted", text: "↑ ↓ to move, Enter to map, Esc to close" }));

  let active = 0;
  const activate = (index) => { active = markActive(options, active, index, list); };
  const pick = (index) => {
    const choice = choices[index];
    closeMapMenu();
    onPick(choice);
  };
  let typed = "";
  let typedAt = 0;
  list.addEventListener("keydown", (event) => {
    // Type-ahead: the letters typed within a moment find the first output they match.
    if (event.key.length === 1 && event.key !== " " && !event.ctrlKey && !event.metaKey && !event.altKey) {
      const now = Date.now();
      typed = now - typedAt > 800 ? event.key : typed + event.key;
      typedAt = now;
      const found = choices.findIndex((choice) => matches(choice, typed));
      if (found >= 0) activate(found);
      return;
    }
    const moves = { ArrowDown: active + 1, ArrowUp: active - 1, Home: 0, End: options.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      activate(moves[event.key]);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      pick(active);
    } else if (event.key === "Escape" || event.key === "Tab") {
      if (event.key === "Escape") event.preventDefault();
      closeMapMenu({ restoreFocus: event.key === "Escape" });
    }
  });
  options.forEach((option, index) => {
    option.addEventListener("click", () => pick(index));
    option.addEventListener("pointermove", () => activate(index));
  });
  place(button, menu);
  activate(0);
  list.focus();
}

function place(button, menu) {
  if (button.hasAttribute("aria-expanded")) button.setAttribute("aria-expanded", "true");
  button.insertAdjacentElement("afterend", menu);
  const onOutside = (event) => {
    if (!menu.contains(event.target) && event.target !== button) closeMapMenu({ restoreFocus: false });
  };
  document.addEventListener("pointerdown", onOutside, true);
  const escape = (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      closeMapMenu();
    }
  };
  menu.addEventListener("keydown", escape);
  open = { menu, button, onOutside };
}

function haystack(choice) {
  const sample = choice.sample === undefined ? "" : shortText(choice.sample);
  return [choice.ref, choice.stepLabel, choice.label, choice.key, sample].filter(Boolean).join(" ").toLowerCase();
}

/** Whether every word of `query` is in the output's reference, names or sample value. */
export function matches(choice, query) {
  const words = String(query || "").toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const text = haystack(choice);
  return words.every((word) => text.includes(word));
}

/** One option of the list: step, output name, sample value when loaded, and type. */
export function optionElement(choice, id) {
  const hasSample = choice.sample !== undefined;
  return h(
    "li",
    { role: "option", id, class: "map-option", "aria-selected": "false", dataset: { ref: choice.ref } },
    // Named by what it shows, so speech input can say it: "New Response: End Date (text)".
    h("span", { class: "map-option-step", text: choice.stepLabel }),
    h("span", { class: "visually-hidden", text: ": " }),
    h("span", { class: "map-option-label", text: choice.label }),
    h("span", { class: "visually-hidden", text: " (" }),
    h("span", { class: ["chip-type", `type-${choice.type}`], text: typeLabel(choice.type) }),
    h("span", { class: "visually-hidden", text: ")" }),
    hasSample ? h("span", { class: "visually-hidden", text: ", sample: " }) : null,
    hasSample ? h("span", { class: "map-option-sample", text: shortText(choice.sample) }) : null,
  );
}

/**
 * Suggestions under a text `control` that keeps focus while the person types (a combobox):
 * `choices` as for openMapMenu. Returns {move(delta), pick(), update(choices)}; the control's
 * owner sends it the keys. Closes like the menu, with closeMapMenu.
 */
export function openSuggestions(control, { title, choices, onPick, onClose }) {
  if (open?.button !== control) closeMapMenu({ restoreFocus: false });
  const listId = open?.listId ?? uid("suggest-list");
  let menu = open?.menu;
  let list;
  if (!menu) {
    const heading = h("p", { class: "map-menu-title", id: uid("suggest-title"), text: title });
    list = h("ul", { role: "listbox", id: listId, class: "map-menu-list", "aria-labelledby": heading.id });
    menu = h("div", { class: "map-menu suggest-menu" }, heading, list,
      h("p", { class: "map-menu-hint muted", text: "↑ ↓ to move, Enter or Tab to insert, Esc to close" }));
    // The control keeps focus: pressing an option must not blur it.
    menu.addEventListener("pointerdown", (event) => event.preventDefault());
    place(control, menu);
    Object.assign(open, { listId, onClose });
    control.setAttribute("aria-controls", listId);
  } else {
    list = menu.querySelector("[role=listbox]");
  }
  let shown = [];
  let options = [];
  let active = 0;
  const activate = (index) => { active = markActive(options, active, index, control); };
  const update = (next) => {
    shown = next;
    options = next.map((choice, index) => optionElement(choice, `${listId}-${index}`));
    options.forEach((option, index) => {
      option.addEventListener("click", () => pick(index));
      option.addEventListener("pointermove", () => activate(index));
    });
    list.replaceChildren(...options);
    active = 0;
    activate(0);
  };
  const pick = (index = active) => {
    const choice = shown[index];
    closeMapMenu({ restoreFocus: false });
    onPick(choice);
  };
  open.suggestions = { move: (delta) => activate(active + delta), pick: () => pick(), update };
  update(choices);
  return open.suggestions;
}

/** The suggestions open under `control`, or null. */
export function suggestionsOf(control) {
  return open?.button === control ? open.suggestions ?? null : null;
}
