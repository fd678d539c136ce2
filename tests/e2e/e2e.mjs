// famlink's pages in headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core. Run by run.sh against `famlink serve --demo`:
//   node e2e.mjs BASE_URL TOKENS_FILE
// TOKENS_FILE is the demo's standard output ("role name (agency): token" lines).
// Prints one line per check and, last, "e2e: N passed, M failed".
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";

const [base, tokensFile] = process.argv.slice(2);
const shots = process.env.SCREENSHOT_DIR || new URL("./out/", import.meta.url).pathname;
mkdirSync(shots, { recursive: true });
const tokens = {};
for (const line of readFileSync(tokensFile, "utf8").split("\n")) {
  const m = line.match(/^(officer|agency|reviewer|admin)\s+\S+ \(\S+\): (flk_[0-9a-f]+)$/);
  if (m) tokens[m[1]] = m[2];
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

let passed = 0, failed = 0;
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed++;
    console.log(`e2e ${name} ... ok (${Date.now() - started} ms)`);
  } catch (e) {
    failed++;
    console.log(`e2e ${name} ... FAILED: ${e && e.stack ? e.stack : e}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function signedIn(role) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB" });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(base + "/");
  await page.getByLabel("Access token").fill(tokens[role]);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Sign in" }).click()]);
  return { context, page };
}

let reviewer;
await check("sign in as a reviewer lands on the review queue", async () => {
  assert(tokens.reviewer, "no reviewer token in " + tokensFile);
  reviewer = await signedIn("reviewer");
  const { page } = reviewer;
  assert(new URL(page.url()).pathname === "/queue", "landed on " + page.url());
  const cookies = await reviewer.context.cookies();
  const s = cookies.find((c) => c.name === "famlink_session");
  assert(s && s.httpOnly && s.sameSite === "Strict", "session cookie flags: " + JSON.stringify(s));
  assert((await page.locator("table.queue tbody tr").count()) > 0, "the queue is empty");
  await page.screenshot({ path: shots + "/queue.png" });
});

await check("search finds a name written in Cyrillic from its Latin spelling", async () => {
  const { page } = reviewer;
  await page.goto(base + "/search");
  await page.getByLabel("Name as heard").fill("Vasyl Boiko");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForSelector("ol.results li");
  const text = await page.locator("ol.results").innerText();
  assert(text.includes("Василь"), "no Василь among the results");
  assert((await page.locator("ol.results mark").count()) > 0, "nothing highlighted");
  await page.screenshot({ path: shots + "/search.png" });
});

await check("a proposal shows an Arabic-script name beside a Latin one, right to left", async () => {
  const { page } = reviewer;
  let found = null;
  for (const rec of ["/records/child/icrc-gaza/C0000056", "/records/child/unhcr-gaziantep/C0000082", "/records/child/unhcr-islamqala/C0000049"]) {
    await page.goto(base + rec);
    const link = page.locator("ul.history a[href^='/proposals/']").first();
    if (await link.count()) { found = await link.getAttribute("href"); break; }
  }
  assert(found, "no proposal for the Arabic-script children");
  await page.goto(base + found);
  const child = page.locator(".side section").first().locator("bdi[dir=auto]").first();
  const dir = await child.evaluate((el) => getComputedStyle(el).direction);
  assert(dir === "rtl", "the Arabic name is laid out " + dir);
  const inquiryText = await page.locator(".side section").nth(1).innerText();
  assert(/[A-Za-z]/.test(inquiryText), "no Latin on the inquiry side");
  await page.screenshot({ path: shots + "/proposal.png", fullPage: true });
});

await check("text meets WCAG AA contrast on every page", async () => {
  const { page } = reviewer;
  for (const path of ["/queue", "/search?name=Mohammed", "/records/child/icrc-gaza/C0000056"]) {
    await page.goto(base + path);
    const low = await page.evaluate(() => {
      const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
      const lum = ([r, g, b]) => {
        const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const bg = (el) => {
        for (; el; el = el.parentElement) {
          const c = rgb(getComputedStyle(el).backgroundColor);
          if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
        }
        return [255, 255, 255];
      };
      const out = [];
      for (const el of document.querySelectorAll("body *")) {
        const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
        if (!own || el.offsetParent === null) continue;
        const fg = rgb(getComputedStyle(el).color).slice(0, 3);
        const [a, b] = [lum(fg), lum(bg(el))];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        if (ratio < 4.5) out.push(el.tagName + " " + ratio.toFixed(2));
      }
      return out;
    });
    assert(low.length === 0, path + ": " + low.slice(0, 5).join(", "));
  }
});

let recordUrl;
await check("open a proposal, confirm it with the keyboard, see it in the record's history", async () => {
  const { page } = reviewer;
  await page.goto(base + "/queue");
  // Keyboard: j moves to the first proposal, Enter opens it.
  await page.keyboard.press("j");
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  assert(/\/proposals\/\d+$/.test(page.url()), "not a proposal: " + page.url());
  assert((await page.locator(".side section").count()) === 2, "not side by side");
  assert((await page.locator("table.comparisons tbody tr").count()) > 0, "no comparisons");
  await page.getByLabel("Note (optional)").fill("same parents and village");
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await Promise.all([page.waitForNavigation(), page.keyboard.press("c")]);
  await page.getByText("Decision saved.").waitFor();
  recordUrl = await page.locator("#child-h a").getAttribute("href");
  await page.goto(base + recordUrl);
  const history = await page.locator("ul.history").innerText();
  assert(/confirmed/.test(history) && history.includes("same parents and village"), history);
});

await check("an officer gets the forbidden page for the review queue", async () => {
  const { context, page } = await signedIn("officer");
  const resp = await page.goto(base + "/queue");
  assert(resp.status() === 403, "status " + resp.status());
  await page.getByText("You are not allowed to see this page.").waitFor();
  await context.close();
});

await check("an upload with a bad row shows the row and its reason", async () => {
  const { context, page } = await signedIn("agency");
  await page.goto(base + "/batches");
  const csv = [
    "record_id,agency,given_name,family_name,other_names,sex,birth_date,age_years,age_recorded_on,father_name,mother_name,origin_village,origin_district,origin_country,separation_place,separation_date,languages,notes,tracing_consent",
    "E2E1,unhcr-adre,Amina,Yusuf,,F,2015-03-02,,,Yusuf Ali,Halima Omar,Kassala,Kassala,SD,Kassala,2024-05,ar,,yes",
    "E2E2,unhcr-adre,Bad,Date,,F,2015-13-45,,,,,Kassala,Kassala,SD,Kassala,2024-05,ar,,yes",
  ].join("\n") + "\n";
  await page.getByLabel("File (CSV or JSON Lines)").setInputFiles({ name: "e2e.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByLabel("Records in the file").selectOption("child");
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Upload" }).click()]);
  // The page polls itself until the batch is done.
  await page.waitForSelector("#progress[data-live='0'] table.problems", { timeout: 60000 });
  const row = await page.locator("table.problems tbody tr").first().innerText();
  assert(row.includes("3") && row.includes("birth_date"), row);
  await context.close();
});

await check("pages label every field and fit a phone's screen", async () => {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(base + "/");
  await page.getByLabel("Access token").fill(tokens.reviewer);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Sign in" }).click()]);
  const visit = [base + "/queue", base + "/search?name=Mohammed", base + (recordUrl || "/queue")];
  const first = await page.locator("a.row-link").first().getAttribute("href");
  if (first) visit.push(base + first);
  for (const url of visit) {
    await page.goto(url);
    const unlabelled = await page.evaluate(() =>
      Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
        .filter((el) => !(el.id && document.querySelector(`label[for="${el.id}"]`)) && !el.closest("label") && !el.getAttribute("aria-label"))
        .map((el) => el.name));
    assert(unlabelled.length === 0, url + ": unlabelled " + unlabelled.join(","));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, url + ": " + overflow + " px wider than the phone's screen");
    assert(await page.evaluate(() => document.documentElement.lang.length > 0), url + ": no lang");
  }
  await context.close();
});

await browser.close();
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
