// Dark mode: the system preference (prefers-color-scheme) unless the user chose with the toggle;
// the choice is kept in localStorage and applied before the first paint (theme-init.ts).
export type Theme = "light" | "dark";

export const THEME_KEY = "fm.theme";

export function storedTheme(storage: Storage): Theme | null {
  const value = storage.getItem(THEME_KEY);
  return value === "light" || value === "dark" ? value : null;
}

/** `null` follows the system: the stylesheet's media query decides. */
export function applyTheme(root: HTMLElement, theme: Theme | null): void {
  if (theme) root.dataset.theme = theme;
  else delete root.dataset.theme;
}

export function effectiveTheme(root: HTMLElement, prefersDark: boolean): Theme {
  const chosen = root.dataset.theme;
  if (chosen === "light" || chosen === "dark") return chosen;
  return prefersDark ? "dark" : "light";
}

/** The toggle is a button with aria-pressed = "dark mode is on"; it flips the effective theme. */
export function setupThemeToggle(button: HTMLButtonElement, root: HTMLElement, storage: Storage,
                                 prefersDark: () => boolean): void {
  const show = () => button.setAttribute("aria-pressed", String(effectiveTheme(root, prefersDark()) === "dark"));
  button.hidden = false;
  show();
  button.addEventListener("click", () => {
    const next: Theme = effectiveTheme(root, prefersDark()) === "dark" ? "light" : "dark";
    storage.setItem(THEME_KEY, next);
    applyTheme(root, next);
    show();
    root.dispatchEvent(new CustomEvent("fm:theme", { detail: next }));
  });
}
