// A card's options: plain values, fixed choices, or choices loaded from the Qualtrics account
// (surveys, directories, mailing lists, groups), which may depend on other options.

import { asList, getOptionChoices } from "./api.js";
import { h, uid } from "./dom.js";
import { errorList } from "./inputs.js";
import { clip, storedOptionLabel } from "./labels.js";
import { literalControl } from "./literal.js";

const choiceCache = new Map(); // request signature -> Promise<[{value, label}]>

function loadChoices(configurationId, source, params) {
  const signature = JSON.stringify([configurationId, source, params]);
  if (!choiceCache.has(signature)) {
    const request = getOptionChoices(configurationId, source, params).then((data) => asList(data, "choices"));
    request.catch(() => choiceCache.delete(signature));
    choiceCache.set(signature, request);
  }
  return choiceCache.get(signature);
}

/** Option keys that must be cleared when `key` changes, following depends_on transitively. */
export function dependentsOf(card, key) {
  const found = new Set();
  const visit = (changed) => {
    for (const option of card.options || []) {
      if ((option.depends_on || []).includes(changed) && !found.has(option.key)) {
        found.add(option.key);
        visit(option.key);
      }
    }
  };
  visit(key);
  return [...found];
}

function dynamicSelect(ctx, step, field, { id, focusKey, describedBy, onChange }) {
  const value = step.options?.[field.key];
  // The name stored when the option was chosen: shown whenever the live choices are not.
  const stored = value ? storedOptionLabel(step, field.key) : "";
  const shown = stored || (value ? String(value) : "");
  const select = h("select", {
    id,
    dataset: { focus: focusKey },
    "aria-describedby": describedBy || null,
    disabled: ctx.readOnly,
    title: value ? String(value) : null,
  });
  if (field.required) select.setAttribute("aria-required", "true");
  const status = h("span", { class: "muted option-status", "aria-live": "polite" });
  const setPlaceholder = (text) => select.replaceChildren(h("option", { value: value ?? "", text, title: value ? String(value) : null }));
  const labels = new Map(); // value -> label of the choices loaded from the account

  const missing = (field.depends_on || []).filter((dep) => !step.options?.[dep]);
  const card = ctx.catalog.card(step.card);
  if (ctx.readOnly) {
    // Viewers cannot use the account to list choices; show what was chosen, by its stored name.
    setPlaceholder(shown || "—");
    select.disabled = true;
  } else if (card.needs_configuration && !step.configuration) {
    setPlaceholder(value ? `${shown} (choose an account to change it)` : "Choose a configuration first");
    select.disabled = true;
  } else if (missing.length) {
    const names = missing.map((dep) => card.options.find((o) => o.key === dep)?.label || dep);
    setPlaceholder(`Choose ${names.join(", ")} first`);
    select.disabled = true;
  } else {
    setPlaceholder(value ? `${shown} (loading…)` : "Loading…");
    select.setAttribute("aria-busy", "true");
    const params = Object.fromEntries((field.depends_on || []).map((dep) => [dep, step.options[dep]]));
    loadChoices(step.configuration, field.source, params).then(
      (choices) => {
        const options = [h("option", { value: "", text: "Choose…" })];
        for (const choice of choices) {
          const label = choice.label ?? String(choice.value);
          labels.set(String(choice.value), label);
          options.push(h("option", { value: String(choice.value), text: label }));
        }
        if (value && !labels.has(String(value))) {
          options.push(h("option", { value: String(value), text: `${shown} (not found in this account)`, title: String(value) }));
        }
        select.replaceChildren(...options);
        select.value = value ? String(value) : "";
        select.removeAttribute("aria-busy");
        status.textContent = "";
        // The account's current name is what the next save stores.
        if (value && labels.has(String(value))) ctx.model.refreshOptionLabel(step.id, field.key, value, clip(labels.get(String(value))));
      },
      (error) => {
        select.removeAttribute("aria-busy");
        setPlaceholder(shown || "Could not load choices");
        status.textContent = error.message;
        status.classList.add("error");
      },
    );
  }
  select.addEventListener("change", () => {
    const next = select.value || undefined;
    const label = next !== undefined && labels.has(next) ? clip(labels.get(next)) : next === value ? stored : undefined;
    onChange(next, { label });
  });
  return [select, status];
}

export function optionField(ctx, step, field) {
  const card = ctx.catalog.card(step.card);
  const focusKey = `${step.id}:option:${field.key}`;
  const id = uid("option");
  const helpId = field.help ? uid("help") : null;
  const errorId = uid("err");
  const errors = ctx.validation.forField(step.id, field.key).map((e) => e.message);
  const describedBy = [helpId, errors.length ? errorId : null].filter(Boolean).join(" ");

  const onChange = (next, { structural = true, label } = {}) => {
    ctx.validation.clearField(step.id, field.key);
    if (structural) ctx.focusAfterRender(focusKey);
    for (const dependent of dependentsOf(card, field.key)) ctx.model.setOption(step.id, dependent, undefined, { structural: false });
    ctx.model.setOption(step.id, field.key, next, { structural, label });
  };

  const row = h(
    "div",
    { class: ["field", "option-field", errors.length && "has-error"], dataset: { field: field.key } },
    h(
      "label",
      { for: id, class: "field-label" },
      h("span", { text: field.label || field.key }),
      field.required ? h("span", { class: "required", "aria-hidden": "true", text: " *" }) : null,
      field.required ? h("span", { class: "visually-hidden", text: " (required)" }) : null,
    ),
  );
  let controls;
  if (field.source) {
    controls = dynamicSelect(ctx, step, field, { id, focusKey, describedBy, onChange });
  } else {
    const isFreeText = !field.choices?.length && !["boolean"].includes(field.type);
    controls = [
      literalControl(field, step.options?.[field.key], {
        id,
        focusKey,
        describedBy,
        disabled: ctx.readOnly,
        onChange: (next) => onChange(next, { structural: !isFreeText }),
      }),
    ];
  }
  row.append(h("div", { class: "field-body" }, controls));
  if (field.help) row.append(h("p", { class: "help", id: helpId, text: field.help }));
  const list = errorList(errors, errorId);
  if (list) row.append(list);
  return row;
}
