// The card catalog, and the output fields of each step (some depend on the step's options:
// a survey's questions become outputs of New Response once a survey is chosen).

import { asList, getCardOutputs } from "./api.js";
import { storedOutputFields } from "./labels.js";
import { FOR_EACH } from "./state.js";

const LOOP_DEFAULTS = [
  { key: "item", label: "Current item", type: "object" },
  { key: "index", label: "Index", type: "number" },
];

// A name written like an identifier ("readResponse", "read_response") rather than for people;
// config/display.py words it the same way on server-rendered pages.
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;

/** "readResponse" -> "Read Response"; a name already written for people is kept as it is. */
export function displayName(name) {
  const text = String(name ?? "");
  if (!IDENTIFIER.test(text) || !(text.includes("_") || /[a-z][A-Z]/.test(text))) return text;
  return text
    .split(/_+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/)
    .filter(Boolean)
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join(" ");
}

export class Catalog {
  constructor(data) {
    // Keys stay as they are; only the name people read is worded.
    this.cards = asList(data, "cards").map((card) => ({ ...card, name: displayName(card.name) }));
    this.byKey = new Map(this.cards.map((card) => [card.key, card]));
    // The services cards belong to: name, connection_label and credential fields of each.
    this.connectors = new Map(asList(data?.connectors || [], "connectors").map((c) => [c.key, c]));
    this.dynamic = new Map(); // request signature -> output fields
    this.pending = new Map(); // request signature -> promise
  }

  card(key) {
    return this.byKey.get(key) ?? null;
  }

  connector(key) {
    return this.connectors.get(key) ?? null;
  }

  label(step) {
    return this.card(step?.card)?.name ?? step?.card ?? "";
  }

  signature(step) {
    const card = this.card(step.card);
    if (!card?.dynamic_outputs) return null;
    if (card.needs_configuration && !step.configuration) return null;
    const options = step.options || {};
    if (!Object.values(options).some((v) => v !== "" && v !== null && v !== undefined)) return null;
    const params = { configuration: step.configuration ?? "" };
    for (const key of Object.keys(options).sort()) params[key] = options[key];
    return JSON.stringify([card.key, params]);
  }

  /** The outputs a step offers right now, from the catalog plus any loaded for its options. */
  outputsOf(step) {
    const card = this.card(step?.card);
    if (!card) return [];
    const fields = [...(card.outputs || [])];
    if (card.key === FOR_EACH) {
      for (const field of LOOP_DEFAULTS) if (!fields.some((f) => f.key === field.key)) fields.push(field);
    }
    // Until the outputs for the chosen options are loaded (or when they cannot be), the labels
    // stored with the flow stand in for those of them that cards use.
    const extra = this.loadedOutputs(step) || (card.dynamic_outputs ? storedOutputFields(step) : []);
    for (const field of extra) if (!fields.some((f) => f.key === field.key)) fields.push(field);
    return fields;
  }

  /** The option-dependent outputs loaded for a step's current options, or null. */
  loadedOutputs(step) {
    const signature = this.signature(step);
    return (signature && this.dynamic.get(signature)) || null;
  }

  /** Loads option-dependent outputs; resolves true when new fields arrived. */
  async loadOutputs(step) {
    const signature = this.signature(step);
    if (!signature || this.dynamic.has(signature)) return false;
    if (!this.pending.has(signature)) {
      const [key, params] = JSON.parse(signature);
      const request = getCardOutputs(key, params)
        .then((data) => {
          this.dynamic.set(signature, asList(data, "outputs"));
          return true;
        })
        .finally(() => this.pending.delete(signature));
      this.pending.set(signature, request);
    }
    return this.pending.get(signature);
  }

  isLoadingOutputs(step) {
    return this.pending.has(this.signature(step));
  }
}
