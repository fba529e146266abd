// Drives a running code-server (VS Code in the browser) through the installed extension with
// headless Chromium: opens a module, runs "Tritonize: Convert Module Under Cursor", saves, and
// reads the hover on the class. See docs/EDITORS.md ("Headless VS Code check") for the setup.
//
//   node e2e/drive-code-server.cjs http://127.0.0.1:8123 /path/to/ws scale_relu.py ScaledReLU OUT_DIR
//
// Needs playwright-core (NODE_PATH may point at it) and Chromium (CHROMIUM, default
// /usr/bin/chromium). Prints a JSON record and exits 1 when a step fails.
"use strict";
const { readFileSync, writeFileSync } = require("fs");
const { join } = require("path");
const { chromium } = require("playwright-core");

const [url, workspace, file, className, outDir = "."] = process.argv.slice(2);
const record = { steps: {} };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value) {
      return value;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(250);
  }
}

async function palette(page, text) {
  await page.keyboard.press("F1");
  await page.waitForSelector(".quick-input-widget input.input", { timeout: 10000 });
  await page.keyboard.type(text);
  await sleep(400);
  await page.keyboard.press("Enter");
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
    await page.waitForSelector(".monaco-workbench", { timeout: 60000 });
    record.steps.workbench = true;

    // open the module
    await page.locator(".explorer-folders-view .monaco-list-row", { hasText: file }).first().dblclick({ timeout: 20000 });
    await page.waitForSelector(".monaco-editor .view-lines", { timeout: 20000 });
    record.steps.opened = true;

    // the extension activates on Python files and starts the server; its log says when it is up
    await until("the server", async () => {
      await palette(page, "Tritonize: Show Server Log");
      const text = (await page.locator("body").innerText()).replace(/\u00a0/g, " ");
      await page.keyboard.press("Escape");
      return /ready; commands/.test(text) ? text : undefined;
    }, 60000);
    record.steps.server = true;

    // cursor on the class name: Go to Line "line:column"
    const source = readFileSync(join(workspace, file), "utf8").split("\n");
    const line = source.findIndex((l) => l.startsWith(`class ${className}`)) + 1;
    await page.locator(".monaco-editor .view-lines").first().click();
    await page.keyboard.press("Control+G");
    await page.keyboard.type(`${line}:${"class ".length + 2}`);
    await page.keyboard.press("Enter");

    await palette(page, "Tritonize: Convert Module Under Cursor");
    const t0 = Date.now();
    const notification = await until("the progress notification", async () => {
      const texts = await page.locator(".notification-toast").allInnerTexts();
      return texts.find((t) => /Tritonize/.test(t));
    }, 30000).catch(() => undefined);
    record.steps.notification = notification ?? null;
    const status = await page.locator(".statusbar").innerText().catch(() => "");
    record.steps.status_bar = status.split("\n").find((t) => /Tritonize/.test(t)) ?? null;

    await until("the generated class in the editor", async () => {
      const text = await page.locator(".monaco-editor .view-lines").first().innerText();
      return text.includes(`${className}Triton`) ? text : undefined;
    }, 240000);
    record.steps.convert_seconds = (Date.now() - t0) / 1000;
    await page.keyboard.press("Control+S");
    const saved = await until("the saved file", async () => {
      const text = readFileSync(join(workspace, file), "utf8");
      return text.includes(`class ${className}Triton(`) ? text : undefined;
    }, 20000);
    record.steps.saved_has_kernel = saved.includes("@triton.jit");

    // hover on the original class name (the edit may have added imports above it)
    const newLine = saved.split("\n").findIndex((l) => l.startsWith(`class ${className}(`)) + 1;
    await page.keyboard.press("Control+G");
    await page.keyboard.type(`${newLine}:${"class ".length + 2}`);
    await page.keyboard.press("Enter");
    await palette(page, "Show or Focus Hover");
    const hover = await until("the hover", async () => {
      const texts = await page.locator(".monaco-hover").allInnerTexts();
      return texts.find((t) => /variant/.test(t));
    }, 20000);
    record.steps.hover = hover;
    await page.screenshot({ path: join(outDir, "code-server-hover.png") });
    record.ok = true;
  } catch (err) {
    record.ok = false;
    record.error = String(err);
    await page.screenshot({ path: join(outDir, "code-server-failure.png") }).catch(() => undefined);
  } finally {
    await browser.close();
  }
  writeFileSync(join(outDir, "code-server-e2e.json"), JSON.stringify(record, null, 1));
  console.log(JSON.stringify(record, null, 1));
  process.exit(record.ok ? 0 : 1);
}

main();
