// The flow's name, the unsaved-changes marker, Save (with conflict handling) and the warning
// before leaving a page with unsaved changes.

import { saveFlow } from "./api.js";
import { recordLabels } from "./labels.js";
import { notify } from "./notice.js";

export class Toolbar {
  constructor(ctx, { nameInput, dirtyIndicator, versionLabel, saveButton }) {
    this.ctx = ctx;
    this.nameInput = nameInput;
    this.dirtyIndicator = dirtyIndicator;
    this.versionLabel = versionLabel;
    this.saveButton = saveButton;
    this.saving = false;

    nameInput.readOnly = ctx.readOnly;
    nameInput.addEventListener("input", () => ctx.model.setName(nameInput.value));
    if (ctx.readOnly) saveButton.hidden = true;
    saveButton.addEventListener("click", () => this.save());
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s" && !ctx.readOnly) {
        event.preventDefault();
        this.save();
      }
    });
    window.addEventListener("beforeunload", (event) => {
      if (!ctx.model.dirty) return;
      event.preventDefault();
      event.returnValue = "";
    });
  }

  update() {
    const { model } = this.ctx;
    if (document.activeElement !== this.nameInput) this.nameInput.value = model.name;
    this.dirtyIndicator.hidden = !model.dirty;
    this.versionLabel.textContent = model.version ? `Version ${model.version}` : "Not saved yet";
    document.title = `${model.name || "Untitled flow"} · Flow editor · Qualtrics Flows`;
  }

  async save() {
    const { ctx } = this;
    if (this.saving || ctx.readOnly) return;
    if (!ctx.model.name.trim()) {
      notify("Give the flow a name before saving it.", { kind: "error" });
      this.nameInput.focus();
      return;
    }
    this.saving = true;
    this.saveButton.disabled = true;
    this.saveButton.textContent = "Saving…";
    const revision = ctx.model.revision;
    try {
      recordLabels(ctx.model, ctx.catalog);
      const flow = await saveFlow(ctx.flowId, {
        name: ctx.model.name,
        definition: ctx.model.toDefinition(),
        baseVersion: ctx.model.version,
      });
      ctx.validation.clearAll();
      ctx.model.markSaved(flow.version, revision);
      if (flow.activation) ctx.activation?.show(flow.activation);
      ctx.rerender();
      notify(`Saved version ${flow.version}.`, { kind: "success" });
      ctx.versions?.refresh();
    } catch (error) {
      this.failed(error);
    } finally {
      this.saving = false;
      this.saveButton.disabled = false;
      this.saveButton.textContent = "Save";
    }
  }

  failed(error) {
    const { ctx } = this;
    if (error.status === 409) {
      // Someone else saved first: keep this copy as it is and let the person decide.
      notify(error.body?.detail || error.message, {
        kind: "error",
        actions: [{ label: "Reload their version", onClick: () => ctx.reload({ confirmDiscard: true }) }],
      });
      return;
    }
    if (error.status === 400 && Array.isArray(error.body?.errors)) {
      ctx.validation.set(error.body.errors, error.body.detail || "");
      ctx.rerender();
      const count = error.body.errors.length;
      notify(error.body.detail || `Not saved: ${count} problem${count === 1 ? "" : "s"} to fix, marked on the cards.`, { kind: "error", key: "validation" });
      return;
    }
    notify(`Not saved: ${error.message}`, { kind: "error" });
  }
}
