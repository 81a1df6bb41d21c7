// The drift page and the offline report in a real browser: Debian's chromium driven by
// playwright-core, axe-core for accessibility. Driven by tests/it/drift_page.rs, which
// runs the sidecar and sends the traffic; the two talk over stdin/stdout, one line each:
//
//   node drift_page.cjs  (arguments in the environment, see below)
//   <- "clean-checked"      the page shows no drifted feature (clean traffic was sent)
//   -> "drifted"            drifted traffic was sent and the sidecar flagged it
//   <- "drifted-checked"    the page showed it without a reload
//   -> "report"             the HTML report file is written
//   <- "report-checked"
//
// Environment: MODULES (node_modules with playwright-core and axe-core), CHROMIUM (the
// browser), PAGE_URL (the admin listener's /), REPORT_FILE, EXPECTED (JSON: the drifted
// features and the bars each feature's histogram must have), SCREENSHOTS (a directory:
// write the README's screenshots there; optional).
"use strict";
const path = require("path");
const readline = require("readline");
const { chromium } = require(path.join(process.env.MODULES, "playwright-core"));
const axeSource = require("fs").readFileSync(
  path.join(process.env.MODULES, "axe-core", "axe.min.js"),
  "utf8",
);
const expected = JSON.parse(process.env.EXPECTED);

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function waitFor(word) {
  const { value, done } = await lines.next();
  if (done || value.trim() !== word) throw new Error(`expected "${word}" on stdin, got ${value}`);
}
function say(word) { process.stdout.write(word + "\n"); }
function check(ok, what) { if (!ok) throw new Error(what); }

// What the page shows, read from its DOM: features in order, verdicts, bars per histogram.
function readColumns(page, list) {
  return page.$$eval(`ul.columns.${list} > li`, (items) => items.map((li) => ({
    name: li.getAttribute("data-name"),
    drifted: li.getAttribute("data-drifted") === "true",
    bars: li.querySelectorAll("svg.hist g.bar").length,
  })));
}

function checkColumns(columns, drifted, where) {
  const names = columns.map((c) => c.name);
  const flagged = columns.filter((c) => c.drifted).map((c) => c.name);
  check(JSON.stringify([...flagged].sort()) === JSON.stringify([...drifted].sort()),
    `${where}: drifted ${JSON.stringify(flagged)}, expected ${JSON.stringify(drifted)}`);
  check(JSON.stringify(names.slice(0, drifted.length).sort()) === JSON.stringify([...drifted].sort()),
    `${where}: the drifted features are not first: ${JSON.stringify(names)}`);
  check(columns.length === Object.keys(expected.bars).length,
    `${where}: ${columns.length} features shown, expected ${Object.keys(expected.bars).length}`);
  for (const c of columns) {
    check(c.bars === expected.bars[c.name],
      `${where}: ${c.name} has ${c.bars} bars, expected ${expected.bars[c.name]}`);
  }
}

async function noSeriousViolations(page, where) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
  }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(serious.length === 0, `${where}: axe-core found ${JSON.stringify(serious.map((v) => ({
    id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target) })), null, 1)}`);
}

async function screenshots(browser, url, name) {
  if (!process.env.SCREENSHOTS) return;
  for (const [w, h, suffix] of [[1280, 800, "laptop"], [390, 844, "phone"]]) {
    const context = await browser.newContext({ viewport: { width: w, height: h }, colorScheme: "light" });
    const page = await context.newPage();
    await page.goto(url);
    await page.screenshot({ path: path.join(process.env.SCREENSHOTS, `${name}-${suffix}.png`) });
    await context.close();
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ["--no-sandbox", "--headless=new"],
  });
  const errors = [];
  // bypassCSP: axe-core is injected into the page, whose policy allows only its own script.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  let refreshes = 0;
  page.on("response", (r) => { if (r.url().includes("part=main") && r.status() === 200) refreshes += 1; });

  // Clean traffic: nothing drifted, every histogram with the reference's bars.
  const response = await page.goto(process.env.PAGE_URL);
  check(response.status() === 200, `GET / answered ${response.status()}`);
  checkColumns(await readColumns(page, "features"), [], "clean");
  await noSeriousViolations(page, "live page");
  await page.evaluate(() => { window.__loadedOnce = true; });
  // Keyboard: the first Tab reaches the skip link, which moves focus to the report.
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement.className === "skip"), "Tab does not reach the skip link");
  say("clean-checked");

  // Drifted traffic: the page shows it by itself, drifted features first, no reload.
  await waitFor("drifted");
  await page.waitForFunction(
    (n) => document.querySelectorAll("ul.columns.features > li[data-drifted=true]").length === n,
    expected.drifted.length, { timeout: 30000 });
  check(await page.evaluate(() => window.__loadedOnce === true), "the page was reloaded");
  check(refreshes > 0, "no fragment was fetched");
  checkColumns(await readColumns(page, "features"), expected.drifted, "drifted");
  await noSeriousViolations(page, "live page, drifted");
  await screenshots(browser, process.env.PAGE_URL, "drift-page");

  // Without JavaScript the server-rendered page says the same.
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const plainPage = await plain.newPage();
  await plainPage.goto(process.env.PAGE_URL);
  checkColumns(await readColumns(plainPage, "features"), expected.drifted, "without JavaScript");
  await plain.close();
  check(errors.length === 0, `console errors on the live page: ${errors.join("\n")}`);
  say("drifted-checked");

  // The report file: opened from file://, it asks for nothing.
  await waitFor("report");
  const offline = await browser.newContext({ offline: true, bypassCSP: false });
  const reportPage = await offline.newPage();
  const requests = [];
  reportPage.on("request", (r) => requests.push(r.url()));
  reportPage.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  const fileUrl = "file://" + process.env.REPORT_FILE;
  await reportPage.goto(fileUrl);
  check(JSON.stringify(requests) === JSON.stringify([fileUrl]),
    `the report made requests: ${JSON.stringify(requests)}`);
  checkColumns(await readColumns(reportPage, "features"), expected.drifted, "report");
  await offline.close();
  // axe in a context that lets it in (the report's own policy forbids any script).
  const audit = await browser.newContext({ bypassCSP: true });
  const auditPage = await audit.newPage();
  await auditPage.goto(fileUrl);
  await noSeriousViolations(auditPage, "report");
  await audit.close();
  await screenshots(browser, fileUrl, "drift-report");
  check(errors.length === 0, `console errors: ${errors.join("\n")}`);
  await browser.close();
  say("report-checked");
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`browser test failed: ${err.stack || err}\n`);
  process.exit(1);
});
