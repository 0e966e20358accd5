// The live status page at the sidecar's `/`, in a real headless Chromium: it loads with no
// console errors, shows every pool of the policy and the traffic share, and shows a backend
// that went down within a few seconds (the wait's 15 s limit bounds it; the time is printed). Screenshots go to .run/ for people to look at.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Browser } from "../../devkit/browser.js";
import { ROOT, waitUntil } from "../../devkit/processes.js";
import { e2eFleet } from "./fleet.js";
import { chat, readFixture } from "./harness.js";
import { TRANSLATE, useStack } from "./util.js";

const RUN_DIR = join(ROOT, ".run");

describe("status page in headless Chromium", () => {
  const stack = useStack(async () => ({ policy: await readFixture("e2e-policy.yml"), sims: e2eFleet() }));
  let browser: Browser;
  before(async () => {
    browser = await Browser.launch(1366, 768);
    await mkdir(RUN_DIR, { recursive: true });
  });
  after(async () => {
    await browser?.close();
  });

  const pools = () =>
    browser.evaluate<string[]>("[...document.querySelectorAll('[data-pool]')].map(e => e.dataset.pool)");
  const healthOf = (address: string) =>
    browser.evaluate<string | null>(
      `document.querySelector('[data-backend="${address}"] [data-health]')?.dataset.health ?? null`,
    );

  it("loads with no console errors, shows every pool and the traffic share, and refreshes by itself", async () => {
    for (let i = 0; i < 6; i++) assert.equal((await chat(stack().url, { headers: TRANSLATE })).status, 200);
    assert.equal((await chat(stack().url)).status, 200);
    await browser.goto(`${stack().sidecarUrl}/`);
    await waitUntil("the page's first render", pools, (p) => p.length > 0);
    assert.deepEqual((await pools()).sort(), ["deepseek-flash", "qwen-large", "qwen-small"]);
    const first = await browser.evaluate<string>("document.body.dataset.updated");
    await waitUntil(
      "a refresh",
      () => browser.evaluate<string>("document.body.dataset.updated"),
      (v) => v !== first,
    );
    const fast = await waitUntil(
      "the fast class's share",
      () => browser.evaluate<string>(`document.querySelector('[data-class="fast"]')?.innerText ?? ""`),
      (t) => t.includes("qwen-small") && t.includes("100.0 %"),
    );
    assert.match(fast, /6 requests/);
    await writeFile(join(RUN_DIR, "status-page.png"), await browser.screenshot());
    assert.deepEqual(browser.problems, []);
  });

  it("shows a backend going down within a few seconds", async () => {
    const qs1 = stack().sims.byName("qs1");
    assert.equal(await healthOf(qs1.address), "healthy");
    await qs1.setMode("refuse");
    const down = Date.now();
    // Envoy learns it from traffic: connection failures eject the backend (3 in a row).
    let sent = 0;
    await waitUntil(
      "the page showing qs1 down",
      async () => {
        if (sent < 40) {
          sent++;
          await chat(stack().url, { headers: TRANSLATE });
        }
        return healthOf(qs1.address);
      },
      (h) => h !== null && h !== "healthy",
    );
    const seconds = (Date.now() - down) / 1000;
    console.log(
      `status page: qs1 shown as ${await healthOf(qs1.address)} ${seconds.toFixed(1)} s after it went down (${sent} requests sent)`,
    );
    await writeFile(join(RUN_DIR, "status-page-backend-down.png"), await browser.screenshot());
    assert.deepEqual(browser.problems, []);
  });
});
