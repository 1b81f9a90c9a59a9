// The flow's name, the unsaved-changes marker, the draft's state ("Live: version N · Draft:
// unpublished changes"), Save (the draft, problems and all, with conflict handling), Publish,
// Discard draft, and the warning before leaving a page with unsaved changes.

import { discardDraft, publishFlow, saveFlow } from "./api.js";
import { recordLabels } from "./labels.js";
import { notify } from "./notice.js";

export class Toolbar {
  constructor(ctx, { nameInput, dirtyIndicator, versionLabel, saveButton, publishButton, discardButton }) {
    this.ctx = ctx;
    this.nameInput = nameInput;
    this.dirtyIndicator = dirtyIndicator;
    this.versionLabel = versionLabel;
    this.saveButton = saveButton;
    this.publishButton = publishButton;
    this.discardButton = discardButton;
    this.saving = false;

    nameInput.readOnly = ctx.readOnly;
    nameInput.addEventListener("input", () => ctx.model.setName(nameInput.value));
    if (ctx.readOnly) {
      saveButton.hidden = true;
      publishButton.hidden = true;
      discardButton.hidden = true;
    }
    saveButton.addEventListener("click", () => this.save());
    publishButton.addEventListener("click", () => this.publish());
    discardButton.addEventListener("click", () => this.discard());
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
    this.versionLabel.textContent = draftLabel(model);
    this.discardButton.disabled = !model.liveVersion || (!model.unpublished && !model.dirty);
    document.title = `${model.name || "Untitled flow"} · Flow editor · Qualtrics Flows`;
  }

  /** Saves the draft; true once it is stored (with or without problems). */
  async save({ quiet = false } = {}) {
    const { ctx } = this;
    if (this.saving || ctx.readOnly) return false;
    if (!ctx.model.name.trim()) {
      notify("Give the flow a name before saving it.", { kind: "error" });
      this.nameInput.focus();
      return false;
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
        baseVersion: ctx.model.draftRevision,
      });
      ctx.model.markSaved(flow.version, revision, draftOf(flow));
      if (flow.activation) ctx.activation?.show(flow.activation);
      const count = this.showProblems(flow.problems);
      ctx.rerender();
      if (count) {
        notify(`Draft saved with ${count} problem${count === 1 ? "" : "s"} to fix before publishing, marked on the cards.`, { kind: "warning", key: "validation" });
      } else if (!quiet) {
        notify("Draft saved. Publish it to make it live.", { kind: "success" });
      }
      return true;
    } catch (error) {
      this.failed(error);
      return false;
    } finally {
      this.saving = false;
      this.saveButton.disabled = false;
      this.saveButton.textContent = "Save";
    }
  }

  /** Shows the draft's problems on the cards; their count. */
  showProblems(problems) {
    const list = Array.isArray(problems) ? problems : [];
    if (list.length) this.ctx.validation.set(list, "");
    else this.ctx.validation.clearAll();
    return list.length;
  }

  /** Saves unsaved changes first, then publishes the draft: it becomes the live version. */
  async publish() {
    const { ctx } = this;
    if (this.saving || ctx.readOnly) return;
    if (ctx.model.dirty && !(await this.save({ quiet: true }))) return;
    if (ctx.validation.errors.length) {
      notify("Fix the problems marked on the cards, save, then publish.", { kind: "error", key: "validation" });
      return;
    }
    this.publishButton.disabled = true;
    try {
      const flow = await publishFlow(ctx.flowId, { baseRevision: ctx.model.draftRevision });
      ctx.model.markSaved(flow.version, ctx.model.revision, draftOf(flow));
      if (flow.activation) ctx.activation?.show(flow.activation);
      notify(`Published: version ${flow.live_version} is live.`, { kind: "success" });
      ctx.versions?.refresh();
    } catch (error) {
      if (error.status === 409 && Array.isArray(error.body?.problems)) {
        const count = this.showProblems(error.body.problems);
        ctx.rerender();
        notify(`Not published: ${count} problem${count === 1 ? "" : "s"} to fix, marked on the cards.`, { kind: "error", key: "validation" });
      } else {
        this.failed(error, "Not published");
      }
    } finally {
      this.publishButton.disabled = false;
    }
  }

  /** Puts the live version back in the draft. */
  async discard() {
    const { ctx } = this;
    if (ctx.readOnly || !ctx.model.liveVersion) return;
    if (!window.confirm(`Discard the draft and go back to version ${ctx.model.liveVersion}, the live one?`)) return;
    try {
      ctx.loadFlow(await discardDraft(ctx.flowId));
      notify(`Draft discarded: back to version ${ctx.model.liveVersion}.`, { kind: "success" });
    } catch (error) {
      notify(`Could not discard the draft: ${error.message}`, { kind: "error" });
    }
  }

  failed(error, what = "Not saved") {
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
    notify(`${what}: ${error.message}`, { kind: "error" });
  }
}

/** The draft's state as the flow JSON gives it. */
export function draftOf(flow) {
  return { revision: flow.revision ?? 0, liveVersion: flow.live_version ?? null, unpublished: Boolean(flow.has_unpublished_changes) };
}

/** "Live: version N · Draft: unpublished changes", "Live: version N" or "Draft saved · not published". */
export function draftLabel(model) {
  if (model.liveVersion) return model.unpublished ? `Live: version ${model.liveVersion} · Draft: unpublished changes` : `Live: version ${model.liveVersion}`;
  return model.draftRevision ? "Draft saved · not published" : "Not saved yet";
}
