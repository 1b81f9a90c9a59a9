// The one-line banner under the toolbar: saved, conflict, failures, hints.

import { clear, h } from "./dom.js";

let region = null;
let timer = null;

export function initNotice(element) {
  region = element;
}

/**
 * kind: "success" | "info" | "warning" | "error". Successes and hints fade after a while;
 * warnings and errors stay until dismissed or replaced. `actions` are [{label, onClick}].
 */
export function notify(message, { kind = "info", actions = [] } = {}) {
  if (!region) return;
  window.clearTimeout(timer);
  clear(region);
  const body = h(
    "div",
    { class: ["notice", kind], role: kind === "error" || kind === "warning" ? "alert" : "status" },
    h("span", { class: "notice-text", text: message }),
    actions.map((action) => h("button", { type: "button", class: "button small", text: action.label, onclick: action.onClick })),
    h("button", { type: "button", class: "notice-close", "aria-label": "Dismiss message", text: "×", onclick: dismiss }),
  );
  region.append(body);
  region.hidden = false;
  if (kind === "success" || kind === "info") timer = window.setTimeout(dismiss, 8000);
}

export function dismiss() {
  if (!region) return;
  window.clearTimeout(timer);
  clear(region);
  region.hidden = true;
}
