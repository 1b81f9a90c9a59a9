// The Undo and Redo buttons and their keys: Ctrl+Z, Ctrl+Shift+Z and Ctrl+Y (Cmd on macOS).
// In a text field the keys are the browser's own: they undo the typing in that field.

const TEXT_INPUTS = new Set(["text", "search", "email", "url", "tel", "password", "number", "date", "datetime-local", "time", "month", "week"]);

const MAC = /Mac|iPhone|iPad/.test(navigator.userAgentData?.platform || navigator.platform || "");
const KEYS = MAC ? { undo: "⌘Z", redo: "⇧⌘Z" } : { undo: "Ctrl+Z", redo: "Ctrl+Shift+Z" };

function typingIn(element) {
  if (!element) return false;
  if (element.isContentEditable || element.tagName === "TEXTAREA") return true;
  return element.tagName === "INPUT" && TEXT_INPUTS.has(element.type);
}

function setEnabled(button, enabled, title) {
  // aria-disabled rather than disabled: a button pressed until there is nothing left keeps focus.
  button.setAttribute("aria-disabled", enabled ? "false" : "true");
  button.title = title;
}

export class UndoControls {
  constructor(ctx, { history, undoButton, redoButton }) {
    this.ctx = ctx;
    this.history = history;
    this.undoButton = undoButton;
    this.redoButton = redoButton;
    if (ctx.readOnly) {
      undoButton.hidden = true;
      redoButton.hidden = true;
      return;
    }
    undoButton.addEventListener("click", () => this.undo());
    redoButton.addEventListener("click", () => this.redo());
    history.addEventListener("change", () => this.update());
    document.addEventListener("keydown", (event) => this.onKey(event));
    this.update();
  }

  onKey(event) {
    if (!(event.ctrlKey || event.metaKey) || event.altKey || event.isComposing || event.defaultPrevented) return;
    const key = event.key.toLowerCase();
    const redo = (key === "z" && event.shiftKey) || (key === "y" && !event.shiftKey);
    const undo = key === "z" && !event.shiftKey;
    if (!undo && !redo) return;
    if (typingIn(event.target) || document.querySelector("dialog[open]")) return;
    event.preventDefault();
    if (redo) this.redo();
    else this.undo();
  }

  undo() {
    if (this.history.undo()) this.after("Undid", this.history.nextRedoLabel());
  }

  redo() {
    if (this.history.redo()) this.after("Redid", this.history.nextUndoLabel());
  }

  after(verb, label) {
    this.ctx.announce?.(label ? `${verb} ${label}.` : `${verb}.`);
  }

  update() {
    const { history } = this;
    const undoLabel = history.nextUndoLabel();
    const redoLabel = history.nextRedoLabel();
    const title = (verb, label, keys) => `${[verb, label].filter(Boolean).join(" ")} (${keys})`;
    setEnabled(this.undoButton, history.canUndo, history.canUndo ? title("Undo", undoLabel, KEYS.undo) : "Nothing to undo");
    setEnabled(this.redoButton, history.canRedo, history.canRedo ? title("Redo", redoLabel, KEYS.redo) : "Nothing to redo");
  }
}
