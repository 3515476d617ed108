// A classic (blocking) script in <head>: applies the stored theme before the first paint, so a
// dark-mode user never sees a white flash. Kept tiny; everything else is in app.ts.
import { applyTheme, storedTheme } from "./theme";

try {
  applyTheme(document.documentElement, storedTheme(window.localStorage));
} catch {
  // localStorage may be unavailable (privacy settings): the system preference applies.
}
