// The one-line banner under the toolbar: saved, conflict, failures, hints.

import { clear, h } from "./dom.js";

let region = null;
let timer = null;
let shownKey = null;

export function initNotice(element) {
  region = element;
}

/**
 * kind: "success" | "info" | "warning" | "error". Successes and hints fade after a while (or
 * after `timeout` ms); warnings and errors stay until dismissed or replaced. `actions` are
 * [{label, onClick, ariaLabel}]. `key` names the notice, so that
 * what caused it can take it away again with dismiss(key) once it no longer holds.
 */
export function notify(message, { kind = "info", actions = [], key = null, timeout = 8000 } = {}) {
  if (!region) return;
  window.clearTimeout(timer);
  clear(region);
  shownKey = key;
  const body = h(
    "div",
    { class: ["notice", kind], role: kind === "error" || kind === "warning" ? "alert" : "status", dataset: key ? { key } : {} },
    h("span", { class: "notice-text", text: message }),
    actions.map((action) =>
      h("button", {
        type: "button",
        class: "button small",
        text: action.label,
        "aria-label": action.ariaLabel || null,
        onclick: action.onClick,
      }),
    ),
    h("button", { type: "button", class: "notice-close", "aria-label": "Dismiss message", text: "×", onclick: () => dismiss() }),
  );
  region.append(body);
  region.hidden = false;
  if (kind === "success" || kind === "info") timer = window.setTimeout(() => dismiss(), timeout);
}

/** Hides the notice; with a key, only if the notice shown is that one. */
export function dismiss(key = null) {
  if (!region || (key !== null && key !== shownKey)) return;
  window.clearTimeout(timer);
  clear(region);
  shownKey = null;
  region.hidden = true;
}

export function noticeKey() {
  return shownKey;
}
