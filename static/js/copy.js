// Copy buttons: [data-copy-from="id"] copies the text of that element (a step's inputs or outputs
// as JSON), [data-copy-text] copies its own value. The button says what happened for a moment.
function flash(button, text) {
  const before = button.dataset.label ?? button.textContent;
  button.dataset.label = before;
  button.textContent = text;
  clearTimeout(Number(button.dataset.timer));
  button.dataset.timer = String(setTimeout(() => { button.textContent = before; }, 1500));
}

async function copy(button) {
  const source = button.dataset.copyFrom ? document.getElementById(button.dataset.copyFrom) : null;
  const text = source ? source.textContent : button.dataset.copyText ?? "";
  try {
    await navigator.clipboard.writeText(text);
    flash(button, "Copied");
  } catch {
    flash(button, "Copy failed");
  }
}

// Delegated, so buttons in a step list the live updates re-render keep working.
document.addEventListener("click", (event) => {
  const button = event.target.closest?.("[data-copy-from], [data-copy-text]");
  if (button) copy(button);
});
