// The smoke test in a second engine (sign in, the overview's widgets, a session's timeline, sign out): Firefox ESR driven by puppeteer-core over WebDriver
// BiDi. Run by tests/test_browser.py:
//   node e2e/firefox-smoke.mjs BASE_URL EMAIL PASSWORD FIREFOX_PATH
// Prints one JSON line with what it saw; exits non-zero on any failure.
import puppeteer from "puppeteer-core";

const [base, email, password, executablePath] = process.argv.slice(2);
const seen = {};
const browser = await puppeteer.launch({ browser: "firefox", executablePath, headless: true,
                                         args: ["--no-remote"], protocolTimeout: 60_000 });
try {
  const page = await browser.newPage();
  await page.goto(`${base}/login`, { waitUntil: "load" });
  await page.type("#email", email);
  await page.type("#password", "not the password");
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("form[method=post] button[type=submit]")]);
  seen.wrongPassword = await page.$eval("#password-error", (node) => node.textContent.trim());

  await page.type("#password", password); // the e-mail stays filled in; the password does not
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("form[method=post] button[type=submit]")]);
  seen.afterSignIn = new URL(page.url()).pathname;
  seen.user = await page.$eval("[data-user-name]", (node) => node.textContent.trim());
  seen.role = await page.$eval("[data-user-role]", (node) => node.textContent.trim());
  seen.widgetState = await page.waitForFunction(
    () => document.querySelector("[data-widget]")?.dataset.state !== "loading" &&
          document.querySelector("[data-widget]")?.dataset.state, { timeout: 20_000 }).then((handle) => handle.jsonValue());

  await page.goto(`${base}/sessions`, { waitUntil: "load" }); // the sessions list, then the newest one's timeline
  seen.sessionsListed = await page.$$eval("[data-session-link]", (links) => links.length);
  if (seen.sessionsListed > 0) {
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("[data-session-link]")]);
    seen.timelineItems = await page.$$eval(".timeline-item", (items) => items.length);
  }

  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("form[action='/api/auth/signout'] button")]);
  // Firefox may report the navigation at the POST's own URL before following its 303 to /login.
  await page.waitForFunction(() => location.pathname !== "/api/auth/signout", { timeout: 10000 }).catch(() => {});
  seen.afterSignOut = new URL(page.url()).pathname;
  await page.goto(`${base}/overview`, { waitUntil: "load" });
  seen.overviewWhenSignedOut = new URL(page.url()).pathname;
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
