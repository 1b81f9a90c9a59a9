// Field types: how they are named to people, and which outputs fit which inputs.

export const TYPE_LABELS = {
  text: "text",
  number: "number",
  boolean: "true/false",
  date: "date",
  object: "object",
  list: "list",
  file: "file",
};

// What each input type accepts, as the server's validation does (designer/validation.py):
// numbers, dates and true/false read fine as text, and text may hold a date.
const ACCEPTS = {
  text: ["text", "number", "date", "boolean"],
  number: ["number"],
  boolean: ["boolean"],
  date: ["date", "text"],
  object: ["object"],
  list: ["list"],
  file: ["file"],
};

export function typeLabel(type) {
  return TYPE_LABELS[type] || type || "any";
}

/** A warning when an output of `outputType` is mapped into an input of `inputType`, else "". */
export function mismatch(outputType, inputType) {
  if (!outputType || !inputType || outputType === inputType) return "";
  const accepted = ACCEPTS[inputType];
  if (!accepted || accepted.includes(outputType)) return "";
  return `A ${typeLabel(outputType)} output is mapped into a ${typeLabel(inputType)} input; the types do not match.`;
}
