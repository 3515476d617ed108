// Bundles the dashboard's TypeScript and CSS into src/fortium_metrics/web/static/ (git-ignored,
// shipped as package data). Writes manifest.json: each entry's file with a content hash (for
// cache-busting URLs) and every file an entry may load, static or dynamic imports (for the
// page-weight budget, tests/test_frontend_budget.py). Prints the gzip size of what a page loads.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "src", "fortium_metrics", "web", "static");
const common = { absWorkingDir: here, outdir, bundle: true, minify: true, sourcemap: false, target: ["es2022"],
                 metafile: true, legalComments: "none", logLevel: "warning" };

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
// The page's module (ECharts is a chunk loaded only by widgets that draw a chart) and stylesheet.
const modules = await build({ ...common, entryPoints: { app: "src/app.ts", styles: "src/styles/app.css" },
                              splitting: true, format: "esm", chunkNames: "chunk-[hash]" });
// A classic script run in <head> before the first paint: it cannot be a module (modules are deferred).
const classic = await build({ ...common, entryPoints: { "theme-init": "src/theme-init.ts" }, format: "iife" });

// /api/docs, a page of its own: built apart, so the dashboard's pages share no chunk with Swagger UI.
const apiDocs = await build({ ...common, entryPoints: { "api-docs": "src/api-docs.ts", "api-docs-styles": "src/styles/api-docs.css" },
                              format: "esm" });

const outputs = { ...modules.metafile.outputs, ...classic.metafile.outputs, ...apiDocs.metafile.outputs };
const name = (path) => relative(outdir, join(here, path));
const hash = (file) => createHash("sha256").update(readFileSync(join(outdir, file))).digest("hex").slice(0, 12);

function loads(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  const output = outputs[relative(here, join(outdir, file))];
  for (const imported of output?.imports ?? []) {
    if (!imported.external) loads(name(imported.path), seen);
  }
  return seen;
}

const manifest = { assets: {}, loads: {} };
for (const [path, output] of Object.entries(outputs)) {
  const file = name(path);
  if (!output.entryPoint || file.startsWith("chunk-")) continue; // dynamic imports are not pages' entries
  manifest.assets[file] = { file, hash: hash(file) };
  manifest.loads[file] = [...loads(file)].sort();
}
writeFileSync(join(outdir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");

const page = new Set([...manifest.loads["app.js"], ...manifest.loads["theme-init.js"], ...manifest.loads["styles.css"]]);
const gzip = [...page].reduce((sum, file) => sum + gzipSync(readFileSync(join(outdir, file)), { level: 9 }).length, 0);
console.log(`front end built: a dashboard page loads ${page.size} files, ${(gzip / 1024).toFixed(1)} KB gzip (budget 300 KB)`);
