// Output chips: dragged from a card's outputs and dropped on an input to map it.

import { h } from "./dom.js";
import { typeLabel } from "./fieldtypes.js";
import { shortText } from "./steptest.js";

function sampleTitle(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

export const REF_TYPE = "application/x-qflows-ref";

/** `sample` is the output's value in the step's pinned sample (undefined: none yet). */
export function outputChip(field, stepId, { draggable = true, sample } = {}) {
  const ref = `${stepId}.${field.key}`;
  const hasSample = sample !== undefined;
  const chip = h(
    "li",
    {
      class: ["chip", `type-${field.type || "text"}`, hasSample && "has-sample"],
      draggable: draggable ? "true" : "false",
      title: `${field.label || field.key} (${typeLabel(field.type)}): drag onto an input to map it` +
        (hasSample ? `\nSample: ${sampleTitle(sample)}` : ""),
      dataset: { ref },
    },
    h("span", { class: "chip-label", text: field.label || field.key }),
    hasSample ? h("span", { class: "chip-sample", text: shortText(sample) }) : null,
    h("span", { class: "chip-type", text: typeLabel(field.type) }),
  );
  if (draggable) {
    chip.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData(REF_TYPE, ref);
      event.dataTransfer.effectAllowed = "copyLink";
      document.body.classList.add("dragging-ref");
    });
    chip.addEventListener("dragend", () => document.body.classList.remove("dragging-ref"));
  }
  return chip;
}

/** The chip shown in an input that is mapped to an output, with a button to unmap it. */
export function mappedChip({ stepLabel, label, type, missing, ref }, { fieldLabel, onRemove, focusKey, readOnly }) {
  return h(
    "span",
    { class: ["chip", "mapped", `type-${type || "text"}`, missing && "missing"], title: ref || null },
    h("span", { class: "chip-step", text: stepLabel }),
    h("span", { class: "chip-label", text: label }),
    readOnly
      ? null
      : h("button", {
          type: "button",
          class: "chip-remove",
          "aria-label": `Remove mapping from ${fieldLabel}`,
          title: "Remove mapping",
          text: "×",
          dataset: { focus: focusKey },
          onclick: onRemove,
        }),
  );
}

/** Makes `element` accept dropped chips; `onDrop(ref)` decides what to do with them. */
export function acceptRefs(element, onDrop) {
  const has = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes(REF_TYPE);
  element.addEventListener("dragover", (event) => {
    if (!has(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "link";
    element.classList.add("drop-ready");
  });
  element.addEventListener("dragleave", (event) => {
    if (!element.contains(event.relatedTarget)) element.classList.remove("drop-ready");
  });
  element.addEventListener("drop", (event) => {
    if (!has(event)) return;
    event.preventDefault();
    event.stopPropagation();
    element.classList.remove("drop-ready");
    document.body.classList.remove("dragging-ref");
    onDrop(event.dataTransfer.getData(REF_TYPE), event);
  });
}
