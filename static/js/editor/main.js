// Boots the flow editor: loads the catalog, the flow and the accounts, then wires the parts.

import { ActivationControl } from "./activation.js";
import { asList, getCatalog, getFlow, listConfigurations } from "./api.js";
import { Canvas } from "./canvas.js";
import { Catalog } from "./catalog.js";
import { h } from "./dom.js";
import { History } from "./history.js";
import { downloadFlow } from "./io.js";
import { forgetDrafts } from "./literal.js";
import { LivePanel } from "./live.js";
import { dismiss, initNotice, noticeKey, notify } from "./notice.js";
import { Palette } from "./palette.js";
import { EVENT_ID, FlowModel, branchesOf } from "./state.js";
import { StepTests } from "./steptest.js";
import { TestRun } from "./testrun.js";
import { Toolbar, draftOf } from "./toolbar.js";
import { UndoControls } from "./undo.js";
import { Validation } from "./validation.js";
import { VersionsPanel } from "./versions.js";

const root = document.getElementById("editor");
const $ = (id) => document.getElementById(id);
const BRANCH_NAMES = { then: "Then", else: "Else", steps: "the loop" };
const EDIT_ROLES = ["owner", "admin", "editor"];

function createContext({ catalog, configurations }) {
  const model = new FlowModel();
  const ctx = {
    flowId: root.dataset.flowId,
    role: root.dataset.role,
    readOnly: !EDIT_ROLES.includes(root.dataset.role),
    model,
    catalog,
    configurations: {
      list: configurations,
      add(configuration) {
        this.list = [...this.list.filter((c) => c.id !== configuration.id), configuration];
      },
    },
    target: null,
    collapsed: new Set(),
    notify,
    memo: new Map(),
  };

  ctx.beginRender = () => ctx.memo.clear();
  ctx.available = (id) => {
    if (!ctx.memo.has(id)) ctx.memo.set(id, model.availableOutputs(id, (step) => catalog.outputsOf(step)));
    return ctx.memo.get(id);
  };
  ctx.stepLabel = (id) => {
    const step = model.step(id);
    if (!step) return "";
    const name = catalog.label(step);
    if (id === EVENT_ID) return name;
    let same = 0;
    for (const { step: other } of model.walk()) if (other.card === step.card) same += 1;
    return same > 1 ? `${name} (${id})` : name;
  };
  ctx.describeTarget = (target) =>
    target.parent === null ? "the end of the flow" : `${BRANCH_NAMES[target.branch] || target.branch} of ${ctx.stepLabel(target.parent)}`;
  ctx.isTarget = (target) => Boolean(ctx.target) && ctx.target.parent === target.parent && ctx.target.branch === target.branch;
  ctx.describeError = (stepId, field) => {
    const step = model.step(stepId);
    const card = step ? catalog.card(step.card) : null;
    const fieldDef = [...(card?.options || []), ...(card?.inputs || [])].find((f) => f.key === field);
    const fieldName = field === "configuration" ? "Account" : fieldDef?.label || field;
    const stepName = step ? ctx.stepLabel(stepId) : { flow: "Flow", [EVENT_ID]: "Event" }[stepId] || stepId || "Flow";
    return fieldName ? `${stepName} · ${fieldName}` : stepName;
  };
  return ctx;
}

/** The name of the card with id `id` in a snapshot {event, steps} taken before a change. */
function cardNameIn(ctx, state, id) {
  const search = (list) => {
    for (const step of list || []) {
      if (step.id === id) return step;
      for (const branch of branchesOf(step)) {
        const found = search(step[branch]);
        if (found) return found;
      }
    }
    return null;
  };
  const step = id === EVENT_ID ? state?.event : search(state?.steps);
  return step ? ctx.catalog.card(step.card)?.name || step.card : id;
}

/** What a change did, in words for the Undo and Redo buttons' titles ("Undo adding Compose"). */
function describeChange(ctx, detail, before) {
  if (detail.added) return `adding ${ctx.stepLabel(detail.added)}`;
  if (detail.removed) return `removing ${cardNameIn(ctx, before, detail.removed)}`;
  if (detail.moved) return `moving ${ctx.stepLabel(detail.moved)}`;
  if (detail.field === "name" && !detail.step) return "renaming the flow";
  if (detail.step && detail.field) return `changing ${ctx.describeError(detail.step, detail.field)}`;
  return "the last change";
}

/** Ids of the cards nested in `step`, at any depth. */
function nestedIds(step) {
  return branchesOf(step).flatMap((branch) => (step[branch] || []).flatMap((child) => [child.id, ...nestedIds(child)]));
}

function focusError(stepId, field) {
  const card = document.getElementById(`card-${stepId}`);
  if (!card) return;
  const row = field ? card.querySelector(`.field[data-field="${CSS.escape(field)}"]`) : null;
  const control = row?.querySelector("input, select, textarea, button") || card;
  control.scrollIntoView({ block: "center" });
  control.focus({ preventScroll: true });
}

// The page carries the catalog, the flow and the configurations as the server had them when it
// rendered the page. A page shown again from the browser's history may be older than that, so
// it asks the server, as the editor does when no data came with the page.
function initialData() {
  const element = document.getElementById("editor-initial");
  const navigation = performance.getEntriesByType?.("navigation")?.[0];
  if (!element || navigation?.type === "back_forward") return null;
  try {
    const data = JSON.parse(element.textContent);
    return data && data.catalog && data.flow ? data : null;
  } catch {
    return null;
  }
}

async function boot() {
  initNotice($("editor-notice"));
  const canvasElement = $("canvas");
  let catalogData;
  let flow;
  let configurations;
  const initial = initialData();
  try {
    [catalogData, flow, configurations] = initial
      ? [initial.catalog, initial.flow, initial.configurations || []]
      : await Promise.all([getCatalog(), getFlow(root.dataset.flowId), listConfigurations().catch(() => [])]);
  } catch (error) {
    canvasElement.replaceChildren(h("p", { class: "error", role: "alert", text: `The editor could not load this flow: ${error.message}` }));
    return;
  }

  const ctx = createContext({ catalog: new Catalog(catalogData), configurations: asList(configurations, "configurations") });
  const { model } = ctx;
  ctx.validation = new Validation($("validation-summary"), {
    describe: ctx.describeError,
    focusTarget: focusError,
    // The "Not saved" notice goes with the last problem it announced, and counts what is left.
    onChange: (count) => {
      if (noticeKey() !== "validation") return;
      if (!count) dismiss("validation");
      else notify(`${count} problem${count === 1 ? "" : "s"} left to fix before publishing, marked on the cards.`, { kind: "error", key: "validation" });
    },
  });
  const history = new History(model, { describe: (detail, before) => describeChange(ctx, detail, before) });
  ctx.history = history;
  const announcer = $("editor-announcer");
  ctx.announce = (message) => {
    announcer.textContent = message;
  };
  const canvas = new Canvas(canvasElement, ctx);
  const palette = new Palette($("palette"), ctx);
  ctx.rerender = () => canvas.render();

  ctx.setTarget = (target) => {
    ctx.target = target;
    palette.render();
    canvas.render();
    if (target) $("palette-search")?.focus();
  };
  ctx.addCard = (key, target) => {
    const card = ctx.catalog.card(key);
    if (!card || ctx.readOnly) return;
    if (card.kind === "event") {
      if (model.event) return notify("This flow already starts with an event. Remove it first to use another one.", { kind: "warning" });
      ctx.focusAfterRender(`${EVENT_ID}:card`);
      model.setEvent(card);
      return;
    }
    if (!model.event) return notify("Every flow starts with an event: pick one first.", { kind: "warning" });
    ctx.target = null;
    let id;
    try {
      id = model.addStep(card, target || { parent: null, branch: "steps" });
    } catch (error) {
      return notify(error.message, { kind: "warning" });
    }
    canvas.render();
    const element = document.getElementById(`card-${id}`);
    element?.scrollIntoView({ block: "nearest" });
    element?.focus({ preventScroll: true });
  };
  // A card with settings goes at once, with a notice that offers to bring it back.
  ctx.removeStep = (id) => {
    const found = model.find(id);
    if (!found) return;
    const { step } = found;
    const inside = nestedIds(step);
    const configured =
      inside.length > 0 ||
      (step.configuration !== undefined && step.configuration !== null) ||
      Object.keys(step.options || {}).length > 0 ||
      Object.keys(step.inputs || {}).length > 0;
    const label = ctx.stepLabel(id);
    const neighbour = found.list ? (found.list[found.index + 1] || found.list[found.index - 1] || found.ancestors.at(-1)?.step || model.event) : null;
    for (const removed of [id, ...inside]) ctx.validation.clearStep(removed);
    if (ctx.target && [id, ...inside].includes(ctx.target.parent)) ctx.target = null;
    if (neighbour) ctx.focusAfterRender(`${neighbour.id}:card`);
    model.removeStep(id);
    if (!configured) return;
    const deletion = history.peek();
    const more = inside.length ? ` and the ${inside.length} card${inside.length === 1 ? "" : "s"} inside it` : "";
    notify(`Deleted “${label}”${more}.`, {
      kind: "info",
      key: "deleted",
      timeout: 15000,
      actions: [
        {
          label: "Undo",
          ariaLabel: `Undo deleting ${label}`,
          onClick: () => {
            dismiss("deleted");
            if (history.peek() === deletion) {
              ctx.focusAfterRender(`${id}:card`);
              ctx.undo();
            }
          },
        },
      ],
    });
  };
  ctx.loadFlow = (data) => {
    ctx.validation.clearAll();
    ctx.target = null;
    ctx.collapsed.clear();
    model.load({ name: data.name, version: data.version, definition: data.definition || {}, draft: draftOf(data) });
    // The draft is stored with its problems: they show on the cards until they are fixed.
    if (Array.isArray(data.problems) && data.problems.length) {
      ctx.validation.set(data.problems, "");
      ctx.rerender?.();
    }
    if (data.activation) ctx.activation.show(data.activation);
  };
  // After an activation (which publishes the draft first): the draft's state, from the server.
  ctx.refreshDraft = async () => {
    try {
      const data = await getFlow(ctx.flowId);
      model.setDraft(draftOf(data));
      toolbar.update();
      ctx.versions?.refresh();
    } catch {
      // the label stays as it was; the next save or reload corrects it
    }
  };
  ctx.reload = async ({ confirmDiscard = false } = {}) => {
    if (confirmDiscard && model.dirty && !window.confirm("Reload the saved draft? Your unsaved changes will be lost.")) return;
    try {
      ctx.loadFlow(await getFlow(ctx.flowId));
      notify("Loaded the saved draft.", { kind: "info" });
    } catch (error) {
      notify(`Could not reload: ${error.message}`, { kind: "error" });
    }
  };

  const undoControls = new UndoControls(ctx, { history, undoButton: $("undo-button"), redoButton: $("redo-button") });
  ctx.undo = () => undoControls.undo();
  const toolbar = new Toolbar(ctx, {
    nameInput: $("flow-name"),
    dirtyIndicator: $("dirty-indicator"),
    versionLabel: $("flow-version"),
    saveButton: $("save-button"),
    publishButton: $("publish-button"),
    discardButton: $("discard-button"),
  });
  ctx.live = new LivePanel(ctx, { panel: $("live-panel"), wsPath: root.dataset.wsPath, runsUrl: root.dataset.runsUrl });
  ctx.activation = new ActivationControl(ctx, { badge: $("activation-badge"), button: $("activate-button") });
  ctx.versions = new VersionsPanel(ctx, { button: $("versions-button"), panel: $("versions-panel"), dialog: $("version-dialog") });
  new TestRun(ctx, { button: $("test-button"), dialog: $("test-dialog"), runsUrl: root.dataset.runsUrl });
  ctx.stepTests = new StepTests(ctx);
  $("export-button").addEventListener("click", async () => {
    try {
      await downloadFlow(ctx.flowId);
      if (model.dirty) notify("Exported the saved draft; your unsaved changes are not in the file.", { kind: "info" });
    } catch (error) {
      notify(`Could not export: ${error.message}`, { kind: "error" });
    }
  });

  const refreshOutputs = () => {
    if (ctx.readOnly) return; // viewers may not use the accounts that list a survey's questions
    const steps = [model.event, ...Array.from(model.walk(), (found) => found.step)].filter(Boolean);
    for (const step of steps) {
      ctx.catalog.loadOutputs(step).then(
        (changed) => changed && canvas.render(),
        (error) => notify(`Could not load the outputs of ${ctx.stepLabel(step.id)}: ${error.message}`, { kind: "warning" }),
      );
    }
  };

  model.addEventListener("change", (event) => {
    const { detail } = event;
    if (!detail.saved) dismiss("deleted"); // its Undo would now take back a later change
    if (detail.restored) {
      ctx.target = null;
      forgetDrafts();
    } else if (detail.step && !detail.loaded) {
      // What the server said about a field, or about its card as a whole, goes when it is edited.
      const cleared = [
        detail.field ? ctx.validation.clearField(detail.step, detail.field) : false,
        ctx.validation.clearStep(detail.step, { onlyUnfielded: true }),
      ].some(Boolean);
      if (cleared && !detail.structural) canvas.render();
      const stillInvalid = ctx.validation.errors.some((e) => e.step === detail.step);
      document.getElementById(`card-${detail.step}`)?.classList.toggle("invalid", stillInvalid);
    }
    toolbar.update();
    if (detail.structural) {
      canvas.render();
      palette.render();
    }
    refreshOutputs();
  });

  ctx.loadFlow(flow);
  ctx.activation.show(flow.activation || { status: flow.status || "inactive" });
  ctx.live.start();
  ctx.stepTests.load();
  root.classList.add("ready");
}

boot();
