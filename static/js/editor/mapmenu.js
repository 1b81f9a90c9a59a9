// "Map output…": a listbox of the outputs a field may use, for keyboard and pointer alike.

import { h, uid } from "./dom.js";
import { typeLabel } from "./fieldtypes.js";

let open = null;
const closeListeners = new Set();

export function isMapMenuOpen() {
  return open !== null;
}

/** Runs `listener` once, when the open menu closes. */
export function whenMapMenuCloses(listener) {
  closeListeners.add(listener);
}

export function closeMapMenu({ restoreFocus = true } = {}) {
  if (!open) return;
  const { menu, button, onOutside } = open;
  open = null;
  document.removeEventListener("pointerdown", onOutside, true);
  menu.remove();
  button.setAttribute("aria-expanded", "false");
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
  const options = choices.map((choice, index) =>
    h(
      "li",
      {
        role: "option",
        id: `${listId}-${index}`,
        class: "map-option",
        "aria-selected": "false",
        dataset: { ref: choice.ref },
      },
      // Named by what it shows, so speech input can say it: "New Response: End Date (text)".
      h("span", { class: "map-option-step", text: choice.stepLabel }),
      h("span", { class: "visually-hidden", text: ": " }),
      h("span", { class: "map-option-label", text: choice.label }),
      h("span", { class: "visually-hidden", text: " (" }),
      h("span", { class: ["chip-type", `type-${choice.type}`], text: typeLabel(choice.type) }),
      h("span", { class: "visually-hidden", text: ")" }),
    ),
  );
  list.append(...options);
  menu.append(list, h("p", { class: "map-menu-hint muted", text: "↑ ↓ to move, Enter to map, Esc to close" }));

  let active = 0;
  const activate = (index) => {
    options[active]?.setAttribute("aria-selected", "false");
    options[active]?.classList.remove("active");
    active = (index + options.length) % options.length;
    options[active].setAttribute("aria-selected", "true");
    options[active].classList.add("active");
    list.setAttribute("aria-activedescendant", options[active].id);
    options[active].scrollIntoView({ block: "nearest" });
  };
  const pick = (index) => {
    const choice = choices[index];
    closeMapMenu();
    onPick(choice);
  };
  list.addEventListener("keydown", (event) => {
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
  button.setAttribute("aria-expanded", "true");
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
