import { beforeEach, describe, expect, it } from "vitest";
import { THEME_KEY, applyTheme, effectiveTheme, setupThemeToggle, storedTheme } from "../src/theme";

describe("dark mode", () => {
  let root: HTMLElement;
  let button: HTMLButtonElement;

  beforeEach(() => {
    localStorage.clear();
    root = document.createElement("html");
    button = document.createElement("button");
    button.hidden = true;
  });

  it("follows the system until the person chooses", () => {
    expect(effectiveTheme(root, true)).toBe("dark");
    expect(effectiveTheme(root, false)).toBe("light");
  });

  it("toggles the effective theme, remembers it and says so to assistive technology", () => {
    setupThemeToggle(button, root, localStorage, () => true);
    expect(button.hidden).toBe(false);
    expect(button.getAttribute("aria-pressed")).toBe("true");
    button.click();
    expect(root.dataset.theme).toBe("light");
    expect(localStorage.getItem(THEME_KEY)).toBe("light");
    expect(button.getAttribute("aria-pressed")).toBe("false");
    button.click();
    expect(root.dataset.theme).toBe("dark");
  });

  it("ignores a stored value it does not know", () => {
    localStorage.setItem(THEME_KEY, "sepia");
    expect(storedTheme(localStorage)).toBeNull();
    applyTheme(root, storedTheme(localStorage));
    expect(root.dataset.theme).toBeUndefined();
  });
});
