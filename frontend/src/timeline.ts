// A session's timeline (/sessions/{id}): checkboxes to show or hide kinds of events (prompts,
// requests, tools...). The server renders every event; without JavaScript all stay shown.
export function setupTimeline(root: HTMLElement): void {
  const kinds = root.querySelector<HTMLFieldSetElement>("[data-timeline-kinds]");
  if (!kinds) return;
  kinds.hidden = false;
  kinds.addEventListener("change", () => {
    const shown = new Set([...kinds.querySelectorAll<HTMLInputElement>("input:checked")].map((box) => box.value));
    root.querySelectorAll<HTMLElement>("[data-kind]").forEach((item) => {
      item.hidden = !shown.has(item.dataset.kind ?? "");
    });
  });
}
