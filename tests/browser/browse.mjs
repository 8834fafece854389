// Drives the browse page in Debian's headless chromium as a user would, and prints what
// it saw as one JSON object on stdout; tests/browse.rs decides what is right.
//
// Usage: node browse.mjs '<json>' where json is
//   { url, repo, filter, chart, shots, prefix, next }
//   url     the page (the server's root, context path included)
//   repo    the repository to open from the list (skipped when the page opens it itself)
//   filter  text to type into the chart filter
//   chart   the chart to open after filtering
//   shots   folder for screenshots; prefix names them (<prefix>-charts.png, …)
//   next    whether to click "Next" once on the unfiltered list
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const task = JSON.parse(process.argv[2]);
const deadline = setTimeout(() => {
  console.error('browse.mjs: gave up after 90 s');
  process.exit(2);
}, 90_000);

const profile = mkdtempSync(join(tmpdir(), 'charthall-chromium-'));
mkdirSync(task.shots, { recursive: true });
const out = { consoleErrors: [], pageErrors: [], screenshots: [] };

const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: { width: 1200, height: 900 },
  colorScheme: 'light',
  timezoneId: 'UTC',
  locale: 'en-US',
});
try {
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(30_000);
  page.on('console', (message) => {
    if (message.type() === 'error') out.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => out.pageErrors.push(String(error)));

  const ready = (view, extra = '') =>
    page.waitForSelector(`main[data-state="ready"][data-view="${view}"]${extra}`);
  const shoot = async (name) => {
    const path = join(task.shots, `${task.prefix}-${name}.png`);
    await page.screenshot({ path, fullPage: false });
    out.screenshots.push(path);
  };
  const rows = () => page.$$eval('#charts .chart-row .chart-name', (names) => names.map((n) => n.textContent));
  const counts = async () => ({
    chartRows: await page.$$eval('#charts .chart-row', (r) => r.length),
    elements: await page.$$eval('*', (all) => all.length),
  });

  const response = await page.goto(task.url);
  out.status = response.status();
  out.contentType = response.headers()['content-type'];
  await page.waitForSelector('main[data-state="ready"]');
  out.firstView = await page.$eval('main', (m) => m.dataset.view);
  if (out.firstView === 'repositories') {
    out.repositories = await page.$$eval('.repo-list .repo-name', (names) => names.map((n) => n.textContent));
    await shoot('repositories');
    const label = task.repo === '' ? 'Default repository' : task.repo;
    await page.locator('.repo-list .repo', { has: page.locator('.repo-name', { hasText: label }) }).first().click();
  }
  await ready('charts');
  out.hash = await page.evaluate(() => location.hash);
  out.title = await page.$eval('main h1', (h) => h.textContent);
  out.status_line = await page.$eval('#status', (s) => s.textContent);
  out.total = Number(await page.$eval('main', (m) => m.dataset.total));
  out.initial = await rows();
  out.initialCounts = await counts();
  out.repoAdd = await page.$eval('main .command-text', (c) => c.textContent);
  out.icons = await page.$$eval('#charts img.icon', (imgs) => imgs.map((i) => ({ src: i.src, loaded: i.complete && i.naturalWidth > 0 })));
  await shoot('charts');

  if (task.next) {
    await page.click('#next');
    await ready('charts', '[data-offset="50"]');
    out.nextPage = { rows: await rows(), where: await page.$eval('#page-where', (w) => w.textContent) };
    await page.click('#prev');
    await ready('charts', '[data-offset="0"]');
  }

  // Type as a user does, one key at a time: every keystroke may start a request.
  const started = Date.now();
  await page.locator('#filter').pressSequentially(task.filter, { delay: 40 });
  await ready('charts', `[data-query="${task.filter}"]`);
  out.filterMillis = Date.now() - started;
  out.filtered = await rows();
  out.filteredTotal = Number(await page.$eval('main', (m) => m.dataset.total));
  out.filteredStatus = await page.$eval('#status', (s) => s.textContent);
  out.filteredCounts = await counts();
  out.filteredHash = await page.evaluate(() => location.hash);
  await shoot('filtered');

  await page.locator('#charts .chart-row', { has: page.locator('.chart-name', { hasText: task.chart }) }).first().click();
  await ready('chart');
  out.chart = {
    name: await page.$eval('main h1', (h) => h.textContent),
    description: await page.$eval('.chart-heading .chart-description', (d) => d.textContent),
    commands: await page.$$eval('.install .command-text', (c) => c.map((x) => x.textContent)),
    versions: await page.$$eval('#versions tbody tr', (trs) => trs.map((tr) => {
      const cells = [...tr.querySelectorAll('td')];
      return {
        version: cells[0].textContent,
        appVersion: cells[1].textContent,
        created: cells[2].textContent,
        digest: cells[3].textContent,
        pull: cells[4].querySelector('code').textContent,
        download: cells[0].querySelector('a') ? cells[0].querySelector('a').href : null,
      };
    })),
    crumbs: await page.$$eval('#crumbs .crumb', (c) => c.map((x) => x.textContent)),
  };
  await shoot('chart');
  // A chart's text is shown, never run: a description made of markup stays text.
  out.injected = await page.evaluate(() => window.__injected === true || document.querySelector('main b.injected') !== null);

  // Back to the list through the breadcrumb keeps working.
  await page.locator('#crumbs a.crumb').last().click();
  await ready('charts');
  out.backRows = (await rows()).length;
} catch (error) {
  out.error = String(error && error.stack ? error.stack : error);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  clearTimeout(deadline);
}
console.log(JSON.stringify(out));
