// Export a flow as a JSON file, and import one (used by the flow list page).

import { exportFlow, importFlow } from "./api.js";

export const EXPORT_FORMAT = "qflows.flow/1";

function fileName(name) {
  const slug = (name || "flow").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return `${slug || "flow"}.flow.json`;
}

/** Downloads GET /api/flows/<id>/export/ as a .flow.json file; resolves to the document. */
export async function downloadFlow(flowId) {
  const document_ = await exportFlow(flowId);
  const blob = new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" });
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = fileName(document_.name);
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(href), 10_000);
  return document_;
}

/**
 * Reads an exported file chosen by the person and imports it as a new flow.
 * Resolves to the created flow (with its "warnings" about remapped or cleared accounts);
 * rejects with a readable Error when the file is not a flow export.
 */
export async function importFlowFile(file) {
  let document_;
  try {
    document_ = JSON.parse(await file.text());
  } catch {
    throw new Error(`${file.name} is not a JSON file.`);
  }
  if (!document_ || document_.format !== EXPORT_FORMAT || typeof document_.definition !== "object") {
    throw new Error(`${file.name} is not a flow export (expected format ${EXPORT_FORMAT}).`);
  }
  return importFlow(document_);
}
