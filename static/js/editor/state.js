// The flow definition being edited: the event, the ordered steps and their nested branches.
// Views never change the definition directly; they call these methods, which emit "change".

export const EVENT_ID = "trigger";
export const IF_ELSE = "core.if_else";
export const FOR_EACH = "core.for_each";
export const CONTINUE_IF = "core.continue_if";
export const COMPOSE = "core.compose";

// The nested step lists each container card holds, in document order.
const CONTAINERS = { [IF_ELSE]: ["then", "else"], [FOR_EACH]: ["steps"] };

export function branchesOf(step) {
  const declared = CONTAINERS[step.card] || [];
  const present = ["then", "else", "steps"].filter((b) => Array.isArray(step[b]));
  return [...new Set([...declared, ...present])];
}

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export function isRef(value) {
  return Boolean(value) && typeof value === "object" && !Array.isArray(value) && typeof value.ref === "string";
}

export function splitRef(ref) {
  const dot = ref.indexOf(".");
  return dot < 0 ? { stepId: ref, key: "" } : { stepId: ref.slice(0, dot), key: ref.slice(dot + 1) };
}

function setLabel(step, property, key, label) {
  const labels = { ...(step[property] || {}) };
  if (typeof label === "string" && label !== "") labels[key] = label;
  else delete labels[key];
  if (Object.keys(labels).length) step[property] = labels;
  else delete step[property];
}

export class FlowModel extends EventTarget {
  constructor() {
    super();
    this.name = "";
    this.version = 0; // the latest published version
    this.draftRevision = 0; // the server's revision of the saved draft (a save names it)
    this.liveVersion = null; // the published version the flow runs when active
    this.unpublished = false; // the saved draft differs from the live version
    this.event = null;
    this.steps = [];
    this.dirty = false;
    this.revision = 0;
  }

  load({ name = "", version = 0, definition = {}, draft = {} } = {}) {
    this.name = name;
    this.version = version;
    this.setDraft(draft);
    this.event = definition.event ? clone(definition.event) : null;
    if (this.event) this.event.id = EVENT_ID;
    this.steps = Array.isArray(definition.steps) ? clone(definition.steps) : [];
    this.dirty = false;
    this.emit({ structural: true, loaded: true });
  }

  /** Puts back a name and definition taken earlier (undo, redo): a change like any other. */
  restore({ name = "", event = null, steps = [] }) {
    this.name = name;
    this.event = event;
    this.steps = steps;
    this.changed({ structural: true, restored: true });
  }

  toDefinition() {
    return { event: this.event ? clone(this.event) : null, steps: clone(this.steps) };
  }

  /** What the server says of the saved draft: {revision, liveVersion, unpublished}. */
  setDraft({ revision = 0, liveVersion = null, unpublished = false } = {}) {
    this.draftRevision = revision;
    this.liveVersion = liveVersion;
    this.unpublished = unpublished;
  }

  /** After a save of `revision`: clean, unless something changed while the save was on its way. */
  markSaved(version, revision = this.revision, draft = null) {
    this.version = version;
    if (draft) this.setDraft(draft);
    this.dirty = this.revision !== revision;
    this.emit({ structural: false, saved: true });
  }

  emit(detail) {
    this.dispatchEvent(new CustomEvent("change", { detail }));
  }

  changed(detail) {
    this.dirty = true;
    this.revision += 1;
    this.emit(detail);
  }

  // --- walking -------------------------------------------------------------------------

  /** Every step in document order, each with the list that holds it and its ancestors. */
  *walk(list = this.steps, ancestors = []) {
    for (let index = 0; index < list.length; index += 1) {
      const step = list[index];
      yield { step, list, index, ancestors };
      for (const branch of branchesOf(step)) {
        yield* this.walk(step[branch], [...ancestors, { step, branch }]);
      }
    }
  }

  find(id) {
    if (id === EVENT_ID) return this.event ? { step: this.event, list: null, index: -1, ancestors: [] } : null;
    for (const found of this.walk()) if (found.step.id === id) return found;
    return null;
  }

  step(id) {
    return this.find(id)?.step ?? null;
  }

  nextStepId() {
    let highest = 0;
    for (const { step } of this.walk()) {
      const match = /^step_(\d+)$/.exec(step.id || "");
      if (match) highest = Math.max(highest, Number(match[1]));
    }
    return `step_${highest + 1}`;
  }

  /** The list a target {parent, branch} points at; parent null means the top level. */
  listAt({ parent = null, branch = "steps" } = {}) {
    if (parent === null) return this.steps;
    const container = this.step(parent);
    if (!container || !branchesOf(container).includes(branch)) return null;
    if (!Array.isArray(container[branch])) container[branch] = [];
    return container[branch];
  }

  // --- editing -------------------------------------------------------------------------

  setName(name) {
    if (name === this.name) return;
    this.name = name;
    this.changed({ structural: false, field: "name" });
  }

  setEvent(card) {
    this.event = { id: EVENT_ID, card: card.key, configuration: null, options: {} };
    if (!card.needs_configuration) delete this.event.configuration;
    this.changed({ structural: true, added: EVENT_ID });
    return EVENT_ID;
  }

  removeEvent() {
    this.event = null;
    this.changed({ structural: true, removed: EVENT_ID });
  }

  addStep(card, target = {}) {
    const list = this.listAt(target);
    if (!list) throw new Error("That place in the flow no longer exists.");
    const step = { id: this.nextStepId(), card: card.key };
    if (card.needs_configuration) step.configuration = null;
    step.options = {};
    step.inputs = {};
    for (const branch of CONTAINERS[card.key] || []) step[branch] = [];
    const index = target.index ?? list.length;
    list.splice(Math.max(0, Math.min(index, list.length)), 0, step);
    this.changed({ structural: true, added: step.id });
    return step.id;
  }

  removeStep(id) {
    if (id === EVENT_ID) return this.removeEvent();
    const found = this.find(id);
    if (!found) return;
    found.list.splice(found.index, 1);
    this.changed({ structural: true, removed: id });
  }

  /** Moves a step to a target place; refuses to move a container into itself. */
  moveStep(id, target) {
    const found = this.find(id);
    if (!found) return false;
    if (target.parent === id || (target.parent && this.isInside(target.parent, id))) return false;
    const destination = this.listAt(target);
    if (!destination) return false;
    let index = target.index ?? destination.length;
    if (destination === found.list && found.index < index) index -= 1;
    found.list.splice(found.index, 1);
    destination.splice(Math.max(0, Math.min(index, destination.length)), 0, found.step);
    this.changed({ structural: true, moved: id });
    return true;
  }

  moveBy(id, delta) {
    const found = this.find(id);
    if (!found) return false;
    const index = found.index + delta;
    if (index < 0 || index >= found.list.length) return false;
    found.list.splice(found.index, 1);
    found.list.splice(index, 0, found.step);
    this.changed({ structural: true, moved: id });
    return true;
  }

  /** Whether step `id` sits somewhere below the container `containerId`. */
  isInside(id, containerId) {
    const found = this.find(id);
    return Boolean(found?.ancestors.some((a) => a.step.id === containerId));
  }

  setConfiguration(id, configurationId) {
    const step = this.step(id);
    if (!step) return;
    step.configuration = configurationId;
    this.changed({ structural: true, step: id, field: "configuration" });
  }

  /**
   * Sets an option. `label` is the name of a choice loaded from the account, kept in
   * step.option_labels so that those who cannot load the choices read it instead of the id.
   * Other options change what the step outputs, so its stored output labels go.
   */
  setOption(id, key, value, { structural = true, label } = {}) {
    const step = this.step(id);
    if (!step) return;
    step.options = step.options || {};
    const before = step.options[key];
    if (value === undefined || value === "") delete step.options[key];
    else step.options[key] = value;
    setLabel(step, "option_labels", key, step.options[key] === undefined ? undefined : label);
    if (before !== step.options[key]) delete step.output_labels;
    this.changed({ structural, step: id, field: key });
  }

  /**
   * The live name of the option's value `value`, if it is still the chosen one; refreshed without
   * marking the flow changed: the next save stores it.
   */
  refreshOptionLabel(id, key, value, label) {
    const step = this.step(id);
    if (!step || value === undefined || step.options?.[key] !== value) return;
    setLabel(step, "option_labels", key, label);
  }

  /** Replaces a step's option_labels or output_labels (tidied before a save); empty removes them. */
  replaceLabels(id, property, labels) {
    const step = this.step(id);
    if (!step) return;
    if (labels && Object.keys(labels).length) step[property] = labels;
    else delete step[property];
  }

  setInput(id, key, value, { structural = false } = {}) {
    const step = this.step(id);
    if (!step) return;
    step.inputs = step.inputs || {};
    if (value === undefined || value === "") delete step.inputs[key];
    else step.inputs[key] = value;
    this.changed({ structural, step: id, field: key });
  }

  // --- data flow -----------------------------------------------------------------------

  /**
   * Outputs a step may use, in the scope rules the server validates: the event's; those of
   * earlier cards in the same list and in the lists around it; the item and index of every
   * For Each around it. Cards inside a branch or loop are not visible after it, the two
   * branches of an If/Else do not see each other, and a For Each's outputs exist only inside it.
   * `outputsOf(step)` gives a step's output fields.
   */
  availableOutputs(id, outputsOf) {
    const result = [];
    if (id === EVENT_ID || !this.find(id)) return result;
    const add = (step) => {
      for (const field of outputsOf(step)) result.push({ ...field, stepId: step.id, ref: `${step.id}.${field.key}` });
    };
    if (this.event) add(this.event);
    const visit = (list) => {
      for (const step of list) {
        if (step.id === id) return;
        if (this.isInside(id, step.id)) {
          if (step.card === FOR_EACH) add(step);
          const branch = branchesOf(step).find((b) => this.isInBranch(id, step, b));
          visit(step[branch]);
          return;
        }
        if (step.card !== FOR_EACH) add(step);
      }
    };
    visit(this.steps);
    return result;
  }

  isInBranch(id, container, branch) {
    const found = this.find(id);
    return Boolean(found?.ancestors.some((a) => a.step === container && a.branch === branch));
  }
}
