// Undo and redo while the page is open: snapshots of the flow's name and definition, one taken
// before each change. Changes made in one go (an account chosen clears the options that depend
// on it) are one step, and so is a burst of typing in one field.

const LIMIT = 100;
const TYPING_PAUSE = 1000; // ms; typing after a longer pause is a step of its own

function snapshot(model) {
  return structuredClone({ name: model.name, event: model.event, steps: model.steps });
}

export class History extends EventTarget {
  constructor(model, { describe = () => "" } = {}) {
    super();
    this.model = model;
    this.describe = describe;
    this.undoStack = []; // [{state, label}], the state before each change
    this.redoStack = [];
    this.current = snapshot(model);
    this.batching = false;
    this.typing = null; // {key, at} of the field being typed in, while its edits coalesce
    this.batchEntry = null; // the step the changes of the current task go into
    model.addEventListener("change", (event) => this.observe(event.detail));
  }

  get canUndo() {
    return this.undoStack.length > 0;
  }

  get canRedo() {
    return this.redoStack.length > 0;
  }

  /** The step Undo would take back; its identity tells whether a later change came on top. */
  peek() {
    return this.undoStack.at(-1) ?? null;
  }

  nextUndoLabel() {
    return this.peek()?.label ?? "";
  }

  nextRedoLabel() {
    return this.redoStack.at(-1)?.label ?? "";
  }

  observe(detail) {
    if (detail.loaded) return this.reset();
    if (detail.saved || detail.restored) return;
    const typingKey = !detail.structural && detail.field ? `${detail.step ?? "flow"}:${detail.field}` : null;
    const now = Date.now();
    const coalesce = typingKey && this.typing?.key === typingKey && now - this.typing.at < TYPING_PAUSE;
    this.typing = typingKey ? { key: typingKey, at: now } : null;
    if (this.batching) {
      // The last change of a batch names it: choosing an account clears the options first.
      if (this.batchEntry) this.batchEntry.label = this.describe(detail, this.current);
      return;
    }
    this.batchEntry = null;
    if (!coalesce) {
      this.batchEntry = { state: this.current, label: this.describe(detail, this.current) };
      this.undoStack.push(this.batchEntry);
      if (this.undoStack.length > LIMIT) this.undoStack.shift();
      this.redoStack = [];
    }
    this.batching = true;
    queueMicrotask(() => {
      this.batching = false;
      this.batchEntry = null;
      this.current = snapshot(this.model);
      this.announce();
    });
  }

  reset() {
    this.undoStack = [];
    this.redoStack = [];
    this.typing = null;
    this.current = snapshot(this.model);
    this.announce();
  }

  undo() {
    return this.step(this.undoStack, this.redoStack);
  }

  redo() {
    return this.step(this.redoStack, this.undoStack);
  }

  step(from, to) {
    const entry = from.pop();
    if (!entry) return false;
    to.push({ state: this.current, label: entry.label });
    this.current = entry.state;
    this.typing = null;
    this.model.restore(structuredClone(entry.state));
    this.announce();
    return true;
  }

  announce() {
    this.dispatchEvent(new Event("change"));
  }
}
