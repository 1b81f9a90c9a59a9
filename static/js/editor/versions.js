// The versions panel: which version is live, who published each one and when; view one; restore
// one into the draft (Publish makes it live again, as a new version).

import { asList, getVersion, listVersions, restoreVersion } from "./api.js";
import { clear, h } from "./dom.js";
import { notify } from "./notice.js";
import { branchesOf } from "./state.js";
import { formatDateTime } from "./timefmt.js";

function who(value) {
  if (!value) return "someone";
  return typeof value === "object" ? value.username || value.name || String(value.id) : String(value);
}

function when(value) {
  const date = value ? new Date(value) : null;
  if (!date || Number.isNaN(date.valueOf())) return h("span", { text: value || "" });
  return h("time", { datetime: value, text: formatDateTime(date) });
}

export class VersionsPanel {
  constructor(ctx, { button, panel, dialog }) {
    this.ctx = ctx;
    this.button = button;
    this.panel = panel;
    this.dialog = dialog;
    button.addEventListener("click", () => this.toggle());
  }

  toggle() {
    const opening = this.panel.hidden;
    this.panel.hidden = !opening;
    this.button.setAttribute("aria-expanded", String(opening));
    if (opening) {
      this.refresh();
      this.panel.focus();
    }
  }

  async refresh() {
    if (this.panel.hidden) return;
    const panel = clear(this.panel);
    const close = h("button", { type: "button", class: "icon-button", "aria-label": "Close versions", text: "✕", onclick: () => this.toggle() });
    panel.append(h("div", { class: "panel-head" }, h("h2", { id: "versions-title", text: "Versions" }), close));
    const body = h("div", { role: "status", class: "muted", text: "Loading versions…" });
    panel.append(body);
    let versions;
    try {
      versions = asList(await listVersions(this.ctx.flowId), "versions");
    } catch (error) {
      body.textContent = `Could not load versions: ${error.message}`;
      body.className = "error";
      return;
    }
    body.remove();
    if (!versions.length) {
      panel.append(h("p", { class: "muted", text: "Nothing published yet. Publish the flow to create version 1." }));
      return;
    }
    panel.append(h("ol", { class: "version-list", reversed: true }, versions.map((v) => this.item(v))));
  }

  item(version) {
    const current = version.live ?? version.number === this.ctx.model.liveVersion;
    const actions = h(
      "div",
      { class: "version-actions" },
      h("button", { type: "button", class: "button small", text: "View", "aria-label": `View version ${version.number}`, onclick: () => this.view(version.number) }),
    );
    if (!current && !this.ctx.readOnly) {
      actions.append(
        h("button", { type: "button", class: "button small", text: "Restore", "aria-label": `Restore version ${version.number}`, onclick: () => this.restore(version.number) }),
      );
    }
    return h(
      "li",
      { class: ["version", current && "current"], dataset: { version: String(version.number) } },
      h("div", { class: "version-title" }, h("strong", { text: `Version ${version.number}` }), current ? h("span", { class: "badge ok", text: "live" }) : null),
      h("div", { class: "version-meta muted" }, `Published by ${who(version.published_by ?? version.created_by)} · `, when(version.published_at ?? version.created_at)),
      version.note ? h("p", { class: "version-note", text: version.note }) : null,
      actions,
    );
  }

  outline(definition) {
    const { catalog } = this.ctx;
    const list = (steps) =>
      h(
        "ol",
        { class: "outline" },
        (steps || []).map((step) =>
          h(
            "li",
            {},
            `${catalog.label(step)} (${step.id})`,
            branchesOf(step).map((branch) => (step[branch]?.length ? h("div", { class: "outline-branch" }, `${branch}:`, list(step[branch])) : null)),
          ),
        ),
      );
    return h(
      "div",
      {},
      h("p", { text: definition?.event ? `Event: ${catalog.label(definition.event)}` : "No event" }),
      list(definition?.steps),
    );
  }

  async view(number) {
    const dialog = clear(this.dialog);
    dialog.setAttribute("aria-labelledby", "version-dialog-title");
    dialog.append(h("h2", { id: "version-dialog-title", text: `Version ${number}` }), h("p", { class: "muted", role: "status", text: "Loading…" }));
    dialog.showModal();
    try {
      const version = await getVersion(this.ctx.flowId, number);
      dialog.lastChild.remove();
      dialog.append(
        h("p", { class: "muted" }, `Published by ${who(version.published_by ?? version.created_by)} · `, when(version.published_at ?? version.created_at)),
        this.outline(version.definition),
        h("details", {}, h("summary", { text: "Definition (JSON)" }), h("pre", { text: JSON.stringify(version.definition, null, 2) })),
      );
    } catch (error) {
      dialog.lastChild.textContent = `Could not load version ${number}: ${error.message}`;
    }
    const actions = h("div", { class: "form-actions" });
    if (number !== this.ctx.model.liveVersion && !this.ctx.readOnly) {
      actions.append(
        h("button", {
          type: "button",
          class: "button primary",
          text: `Restore version ${number}`,
          onclick: () => {
            dialog.close();
            this.restore(number);
          },
        }),
      );
    }
    actions.append(h("button", { type: "button", class: "button", text: "Close", onclick: () => dialog.close() }));
    dialog.append(actions);
    actions.lastChild.focus();
  }

  async restore(number) {
    const { ctx } = this;
    const question = ctx.model.dirty
      ? `Load version ${number} into the draft? Your unsaved changes will be lost.`
      : `Load version ${number} into the draft? Publish it to make it live again.`;
    if (!window.confirm(question)) return;
    try {
      const flow = await restoreVersion(ctx.flowId, number);
      ctx.loadFlow(flow);
      notify(`Version ${number} is in the draft: publish it to make it live again.`, { kind: "success" });
      this.refresh();
    } catch (error) {
      notify(`Could not restore version ${number}: ${error.message}`, { kind: "error" });
    }
  }
}
