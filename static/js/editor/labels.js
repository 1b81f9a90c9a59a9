// Names stored next to ids in the flow, for those who cannot load them from the account (a
// viewer, or anyone whose configuration no longer works):
//   step.option_labels = {option key: label} for options whose choices load from the account;
//   step.output_labels = {output key: {label, type}} for outputs that exist only for the chosen
//   options (a survey's questions), recorded for those some card uses.
// The server refuses longer labels and more records than these limits (designer/validation.py).

import { isRef, splitRef } from "./state.js";

export const MAX_LABEL_CHARS = 200;
export const MAX_OUTPUT_LABELS = 200;
const DYNAMIC_PREFIXES = ["q.", "ed."];
const TYPES = new Set(["text", "number", "boolean", "date", "object", "list", "file"]);
export const PLACEHOLDER = /\{\{\s*([a-z][a-z0-9_]*\.[A-Za-z0-9_.-]+)\s*\}\}/g;

export function clip(text) {
  const value = String(text ?? "");
  return value.length > MAX_LABEL_CHARS ? `${value.slice(0, MAX_LABEL_CHARS - 1)}…` : value;
}

/** The label stored for a chosen option, or "". */
export function storedOptionLabel(step, key) {
  const label = step?.option_labels?.[key];
  return typeof label === "string" ? label : "";
}

/** Output fields rebuilt from the stored labels, for when the live ones are not loaded. */
export function storedOutputFields(step) {
  const labels = step?.output_labels;
  if (!labels || typeof labels !== "object") return [];
  return Object.entries(labels)
    .filter(([, record]) => record && typeof record.label === "string")
    .map(([key, record]) => ({ key, label: record.label, type: TYPES.has(record.type) ? record.type : null, stored: true }));
}

function isDynamicKey(card, key) {
  return Boolean(card?.dynamic_outputs) && key.length <= MAX_LABEL_CHARS && DYNAMIC_PREFIXES.some((p) => key.startsWith(p)) && !(card.outputs || []).some((f) => f.key === key);
}

/** {step id: Set of output keys} that the flow's inputs map or name in {{placeholders}}. */
function usedOutputs(steps) {
  const used = new Map();
  const note = (ref) => {
    const { stepId, key } = splitRef(ref);
    if (!used.has(stepId)) used.set(stepId, new Set());
    used.get(stepId).add(key);
  };
  for (const step of steps) {
    for (const value of Object.values(step.inputs || {})) {
      if (isRef(value)) note(value.ref);
      else if (typeof value === "string") for (const match of value.matchAll(PLACEHOLDER)) note(match[1]);
    }
  }
  return used;
}

function outputLabel({ label, type }) {
  return TYPES.has(type) ? { label: clip(label), type } : { label: clip(label) };
}

/**
 * Before a save: keeps only the option labels of chosen options, and records the label of every
 * used option-dependent output, from the live outputs when they are loaded, otherwise as stored.
 */
export function recordLabels(model, catalog) {
  const steps = [model.event, ...Array.from(model.walk(), (found) => found.step)].filter(Boolean);
  const used = usedOutputs(steps);
  for (const step of steps) {
    const card = catalog.card(step.card);
    const optionLabels = {};
    for (const [key, label] of Object.entries(step.option_labels || {})) {
      const option = card?.options?.find((o) => o.key === key);
      const chosen = step.options?.[key] !== undefined && step.options?.[key] !== "";
      if (option?.source && chosen && typeof label === "string" && label) optionLabels[key] = clip(label);
    }
    model.replaceLabels(step.id, "option_labels", optionLabels);
    if (!card?.dynamic_outputs) {
      model.replaceLabels(step.id, "output_labels", null);
      continue;
    }
    const live = catalog.loadedOutputs(step);
    const stored = step.output_labels || {};
    const labels = {};
    for (const key of used.get(step.id) || []) {
      if (Object.keys(labels).length >= MAX_OUTPUT_LABELS) break;
      if (!isDynamicKey(card, key)) continue;
      if (live) {
        const field = live.find((f) => f.key === key);
        if (field) labels[key] = outputLabel({ label: field.label || key, type: field.type });
      } else if (stored[key] && typeof stored[key].label === "string") {
        labels[key] = outputLabel(stored[key]);
      }
    }
    model.replaceLabels(step.id, "output_labels", labels);
  }
}
