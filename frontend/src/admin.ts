// Administration pages: copy buttons (`data-copy="#element"` copies that input's value or that
// element's text) and confirmations before destructive posts (`data-confirm="question"`). Both are
// enhancements: without the script, text is selected by hand and forms post at once.

export function textOf(target: Element | null): string {
  if (!target) return "";
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return target.value;
  return target.textContent ?? "";
}

export async function copyText(text: string, clipboard: Pick<Clipboard, "writeText"> | undefined): Promise<boolean> {
  if (!clipboard) return false;
  try {
    await clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

function flash(button: HTMLButtonElement, label: string): void {
  const original = button.dataset.label ?? button.textContent ?? "";
  button.dataset.label = original;
  button.textContent = label;
  window.setTimeout(() => { button.textContent = original; }, 1600);
}

export function setupAdmin(root: Document): void {
  root.querySelectorAll<HTMLButtonElement>("[data-copy]").forEach((button) => {
    button.addEventListener("click", () => {
      const target = root.querySelector(button.dataset.copy ?? "");
      void copyText(textOf(target), navigator.clipboard).then((copied) => {
        if (!copied && target instanceof HTMLInputElement) target.select();  // copy by hand
        flash(button, copied ? "Copied" : "Press Ctrl+C");
      });
    });
  });
  root.querySelectorAll<HTMLButtonElement>("button[data-confirm]").forEach((button) => {
    button.form?.addEventListener("submit", (event) => {
      if ((event as SubmitEvent).submitter === button && !window.confirm(button.dataset.confirm ?? "Are you sure?")) {
        event.preventDefault();
      }
    });
  });
}
