// One input of a card: a typed literal, or a chip mapped to an earlier output. Outputs are mapped
// by dropping a chip on the field or through the "Map output…" listbox.

import { acceptRefs, mappedChip } from "./chips.js";
import { h, uid } from "./dom.js";
import { mismatch, typeLabel } from "./fieldtypes.js";
import { literalControl } from "./literal.js";
import { openMapMenu } from "./mapmenu.js";
import { notify } from "./notice.js";
import { renderUses, suggestPlaceholders } from "./placeholders.js";
import { COMPOSE, isRef, splitRef } from "./state.js";

export function errorList(messages, id) {
  if (!messages.length) return null;
  return h("ul", { class: "field-errors", id }, messages.map((m) => h("li", { text: m })));
}

function fieldHead(field, labelProps) {
  return h(
    "label",
    { class: "field-label", ...labelProps },
    h("span", { text: field.label || field.key }),
    field.required ? h("span", { class: "required", "aria-hidden": "true", text: " *" }) : null,
    field.required ? h("span", { class: "visually-hidden", text: " (required)" }) : null,
    h("span", { class: ["type-tag", `type-${field.type}`], text: typeLabel(field.type) }),
  );
}

// Outputs named after a survey's questions and embedded data, known once they are loaded.
const DYNAMIC_PREFIXES = ["q.", "ed."];

function describeRef(ctx, step, ref) {
  const available = ctx.available(step.id);
  const found = available.find((choice) => choice.ref === ref);
  if (found) return { ...found, stepLabel: ctx.stepLabel(found.stepId), missing: false };
  const { stepId, key } = splitRef(ref);
  const stepLabel = ctx.stepLabel(stepId) || stepId;
  const fromVisibleStep = available.some((choice) => choice.stepId === stepId);
  // A path into an object output (step_3.item.email), or a question not loaded yet, is fine.
  const head = available.find((c) => c.stepId === stepId && key.startsWith(`${c.key}.`) && ["object", "list"].includes(c.type));
  const source = ctx.model.step(stepId);
  const pending = source && ctx.catalog.card(source.card)?.dynamic_outputs && DYNAMIC_PREFIXES.some((p) => key.startsWith(p));
  const unknownYet = pending && (ctx.readOnly || !ctx.catalog.dynamic.has(ctx.catalog.signature(source)));
  if (fromVisibleStep && (head || unknownYet)) return { ref, key, label: key, type: null, stepLabel, missing: false };
  return { ref, key, label: key, type: null, stepLabel, missing: true };
}

function mapTo(ctx, step, field, ref, focusKey) {
  const choice = ctx.available(step.id).find((c) => c.ref === ref);
  if (!choice) {
    notify(`That output cannot be used in “${field.label || field.key}”: a card may only use outputs of the event and of cards above it.`, { kind: "warning" });
    return;
  }
  ctx.validation.clearField(step.id, field.key);
  ctx.focusAfterRender(`${focusKey}:unmap`);
  ctx.model.setInput(step.id, field.key, { ref }, { structural: true });
}

function choicesFor(ctx, step) {
  return ctx.available(step.id).map((c) => ({
    ...c,
    label: c.label || c.key,
    stepLabel: ctx.stepLabel(c.stepId),
    sample: ctx.stepTests?.sample(c.stepId, c.key),
  }));
}

function insertPlaceholder(control, ref) {
  const token = `{{${ref}}}`;
  const start = control.selectionStart ?? control.value.length;
  const end = control.selectionEnd ?? start;
  control.setRangeText(token, start, end, "end");
  control.dispatchEvent(new Event("input", { bubbles: true }));
  control.focus();
}

export function inputField(ctx, step, field) {
  const focusKey = `${step.id}:input:${field.key}`;
  const id = uid("input");
  const helpId = field.help ? uid("help") : null;
  const errorId = uid("err");
  const warnId = uid("warn");
  const usesId = uid("uses");
  const value = step.inputs?.[field.key];
  const errors = ctx.validation.forField(step.id, field.key).map((e) => e.message);
  const isTemplate = step.card === COMPOSE && field.key === "template";
  const row = h("div", { class: ["field", "input-field", errors.length && "has-error"], dataset: { field: field.key } });
  const describedBy = [helpId, errors.length ? errorId : null, warnId, usesId].filter(Boolean).join(" ");
  const localError = h("p", { class: "json-error", id: warnId, hidden: true });

  const clearServerErrors = () => {
    if (ctx.validation.clearField(step.id, field.key)) {
      row.classList.remove("has-error");
      row.querySelector(".field-errors")?.remove();
    }
  };

  let body;
  let uses = null;
  if (isRef(value)) {
    const mapped = describeRef(ctx, step, value.ref);
    const labelId = uid("label");
    row.setAttribute("role", "group");
    row.setAttribute("aria-labelledby", labelId);
    row.append(fieldHead(field, { id: labelId, for: null }));
    const chip = mappedChip(mapped, {
      fieldLabel: field.label || field.key,
      focusKey: `${focusKey}:unmap`,
      readOnly: ctx.readOnly,
      onRemove: () => {
        ctx.validation.clearField(step.id, field.key);
        ctx.focusAfterRender(`${focusKey}:map`);
        ctx.model.setInput(step.id, field.key, undefined, { structural: true });
      },
    });
    const warning = mapped.missing
      ? `“${value.ref}” is not available here: it must be an output of the event or of a card above this one.`
      : mismatch(mapped.type, field.type);
    body = h("div", { class: "field-body" }, chip);
    row.append(body);
    if (warning) {
      row.classList.add("has-warning");
      row.append(h("p", { class: "type-warning", role: "note", text: `⚠ ${warning}` }));
    }
  } else {
    row.append(fieldHead(field, { for: id }));
    const control = literalControl(field, value, {
      id,
      focusKey,
      disabled: ctx.readOnly,
      describedBy,
      multiline: isTemplate,
      onChange: (next) => {
        clearServerErrors();
        ctx.model.setInput(step.id, field.key, next);
      },
      onInvalid: (message) => {
        localError.textContent = message || "";
        localError.hidden = !message;
      },
    });
    body = h("div", { class: "field-body" }, control);
    row.append(body);
    if (control.matches("input[type=text], textarea")) {
      // Placeholders in the text, by name; typing "{{" suggests the outputs this card may use.
      uses = h("p", { class: "placeholder-uses", id: usesId, hidden: true });
      const showUses = (text) => {
        renderUses(uses, text, (ref) => describeRef(ctx, step, ref));
        row.classList.toggle("has-warning", uses.classList.contains("has-missing"));
      };
      showUses(value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value));
      control.addEventListener("input", () => showUses(control.value));
      if (!ctx.readOnly) suggestPlaceholders(control, () => choicesFor(ctx, step));
    }
    if (isTemplate && !ctx.readOnly) {
      const insert = h("button", {
        type: "button",
        class: "button small",
        text: "Insert placeholder…",
        "aria-haspopup": "listbox",
        "aria-expanded": "false",
        dataset: { focus: `${focusKey}:insert` },
      });
      insert.addEventListener("click", () =>
        openMapMenu(insert, {
          title: "Insert a placeholder for",
          choices: choicesFor(ctx, step),
          onPick: (choice) => insertPlaceholder(control, choice.ref),
        }),
      );
      body.append(insert);
    }
  }

  if (!ctx.readOnly && !isTemplate) {
    const mapButton = h("button", {
      type: "button",
      class: "button small map-button",
      text: isRef(value) ? "Change…" : "Map output…",
      "aria-haspopup": "listbox",
      "aria-expanded": "false",
      "aria-label": `${isRef(value) ? "Change the output mapped" : "Map output"} into ${field.label || field.key}`,
      dataset: { focus: `${focusKey}:map` },
    });
    mapButton.addEventListener("click", () =>
      openMapMenu(mapButton, {
        title: `Map into “${field.label || field.key}”`,
        choices: choicesFor(ctx, step),
        onPick: (choice) => mapTo(ctx, step, field, choice.ref, focusKey),
      }),
    );
    body.append(mapButton);
  }

  if (uses) row.append(uses);
  if (field.help) row.append(h("p", { class: "help", id: helpId, text: field.help }));
  row.append(localError);
  const list = errorList(errors, errorId);
  if (list) row.append(list);

  if (!ctx.readOnly) {
    acceptRefs(row, (ref) => {
      if (isTemplate) {
        if (!ctx.available(step.id).some((c) => c.ref === ref)) {
          notify("Only outputs of the event and of cards above this one can be inserted.", { kind: "warning" });
          return;
        }
        insertPlaceholder(row.querySelector("textarea"), ref);
      } else mapTo(ctx, step, field, ref, focusKey);
    });
  }
  return row;
}
