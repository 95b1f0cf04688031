/**
 * The web dashboard against a real server and exec agent, in a real browser
 * (Debian's Chromium through playwright-core): sign in, a bad token, a job going
 * from queued to complete on its page without a reload (over the event stream,
 * and again with polling when EventSource is not there), live logs, a drain from
 * the node page, a narrow window; and a sweep of 100,000 runs, whose page must
 * show its first rows and counts at once, filter by outcome on the server and
 * follow the sweep's progress live. Screenshots of each page are taken on the way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import type { DispatchRun } from '../../src/api/types.js';
import { browserSuiteEnabled, launchBrowser, screenshot } from '../support/browser.js';
import { TestCluster, waitFor } from '../support/cluster.js';
import { waitForJob } from '../support/e2e.js';

const batch = (name: string, script: string, memory = '64Mi', count = 1) =>
  `name: ${name}\ntype: batch\ncount: ${count}\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(script)}]\n    kill_timeout: 500ms\n    resources: { cpu: 100m, memory: ${memory} }\n`;

describe('web UI over HTTP', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.start();
  });
  afterAll(async () => cluster?.stop());

  it('serves the app at / and for client routes, and leaves the API and missing files alone', async () => {
    const root = await cluster.fetch(`/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toMatch(/text\/html/);
    const html = await root.text();
    expect(html).toContain('<div id="root">');
    expect(root.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");

    // a deep link (history-style path) still gets the app
    const deep = await cluster.fetch(`/jobs/default/web`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);

    // the bundle it references is there, cached for good (its name carries its hash)
    const asset = /src="\.?\/?(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await cluster.fetch(`/${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');

    // the API keeps its own 404s and auth; a missing file is a 404, not the app
    const api = await cluster.fetch(`/v1/nope`, { headers: { authorization: `Bearer ${cluster.adminToken}` } });
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: string }).error).toContain('no such route');
    expect((await cluster.fetch(`/v1/jobs`)).status).toBe(401);
    expect((await cluster.fetch(`/assets/missing.js`)).status).toBe(404);
  });
});

describe.skipIf(!browserSuiteEnabled())('web UI in a browser', () => {
  let cluster: TestCluster;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let nodeId = '';

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: '20s' });
    // small on purpose: one 200 MiB job fills it, so the next one has to queue
    const agent = await cluster.addAgent({ name: 'ui-node', cpu: '2', memory: '300Mi', drivers: 'exec', labels: ['zone=a'] });
    nodeId = await agent.ready();
    browser = await launchBrowser(await cluster.serverCertPem());
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  async function signIn(p: Page, token: string): Promise<void> {
    await p.goto(cluster.url);
    await p.locator('#token').fill(token);
    await p.getByRole('button', { name: 'Sign in' }).click();
  }

  it('refuses a bad token with a clear message', async () => {
    await signIn(page, 'not-a-real-token');
    await page.getByRole('alert').filter({ hasText: 'This token is not valid for this server' }).waitFor();
    // a node-looking secret this server never issued: the same message
    await page.locator('#token').fill('node_00000000000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not valid for this server' }).waitFor();
    expect(await page.evaluate(() => localStorage.getItem('baton.token'))).toBeNull();
    await screenshot(page, 'signin');
  });

  it('signs in with an API token, keeps it, and shows the overview', async () => {
    await signIn(page, cluster.adminToken);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.evaluate(() => localStorage.getItem('baton.token'))).toBe(cluster.adminToken);
    await page.locator('.stat', { hasText: 'ready' }).locator('.stat-num', { hasText: '1' }).waitFor();
    // the servers of the cluster (one, on SQLite), the leader marked
    const st = await cluster.client.status();
    await page
      .getByTestId('leader')
      .filter({ hasText: `Leader ${st.serverId}` })
      .waitFor();
    await page.getByTestId('servers').locator('li', { hasText: st.serverId }).filter({ hasText: 'leader' }).waitFor();
    // the token survives a reload
    await page.reload();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });

  it('shows a job go from queued to complete on its page without reloading (event stream)', async () => {
    await cluster.client.submitJob(batch('hog', 'sleep 600', '200Mi'), 'hog.yaml');
    await waitForJob(cluster.client, 'hog', (d) => d.allocs.some((a) => a.clientStatus === 'running'), 'running');
    await cluster.client.submitJob(batch('waiter', 'echo done-waiting', '200Mi'), 'waiter.yaml');
    await waitForJob(cluster.client, 'waiter', (d) => (d.summary.blocked?.length ?? 0) > 0, 'blocked');

    // the overview says why it waits
    await page.goto(`${cluster.url}/#/`);
    await page.locator('.queue li', { hasText: 'waiter' }).locator('.why', { hasText: 'memory' }).waitFor();
    await page.locator('.live-sse').waitFor();
    // the hog's memory is in use: the capacity follows the alloc events
    await page.locator('.bar-text', { hasText: '200 MiB / 300 MiB' }).waitFor();

    await page.goto(`${cluster.url}/#/jobs/default/waiter`);
    await page.locator('h1 .badge', { hasText: 'blocked' }).waitFor();
    await page.locator('.blocked .why', { hasText: 'memory' }).waitFor();
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

    await cluster.client.stopJob('hog');
    await page.locator('h1 .badge', { hasText: 'complete' }).waitFor({ timeout: 60_000 });
    await page.locator('tr[data-alloc] .badge', { hasText: 'complete' }).waitFor();
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });

  it('still updates live by polling when the browser has no EventSource', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      await ctx.addInitScript(() => {
        delete (window as { EventSource?: unknown }).EventSource;
      });
      await ctx.addInitScript((token) => localStorage.setItem('baton.token', token), cluster.adminToken);
      const p = await ctx.newPage();
      await cluster.client.submitJob(batch('hog2', 'sleep 600', '200Mi'), 'hog2.yaml');
      await waitForJob(cluster.client, 'hog2', (d) => d.allocs.some((a) => a.clientStatus === 'running'), 'running');
      await cluster.client.submitJob(batch('waiter2', 'echo polled', '200Mi'), 'waiter2.yaml');
      await p.goto(`${cluster.url}/#/jobs/default/waiter2`);
      await p.locator('.live-polling').waitFor();
      await p.locator('h1 .badge', { hasText: 'blocked' }).waitFor();
      await cluster.client.stopJob('hog2');
      await p.locator('h1 .badge', { hasText: 'complete' }).waitFor({ timeout: 60_000 });
    } finally {
      await ctx.close();
    }
  });

  it('shows a batch job with its runs, and the jobs list filters', async () => {
    const capped = batch('sweep', 'echo run $BATON_ALLOC_INDEX', '16Mi', 3).replace('cpu: 100m,', 'cpu: 100m, cpu_limit: 500m,');
    await cluster.client.submitJob(capped, 'sweep.yaml');
    await waitForJob(cluster.client, 'sweep', (d) => d.summary.status === 'complete', 'complete');
    await page.goto(`${cluster.url}/#/jobs/default/sweep`);
    await page.getByRole('heading', { name: 'Runs: 3 of 3 finished' }).waitFor();
    // the request and, beside it, the hard cap the task set
    await page.getByText('main (exec, 100m (limit 500m), 16 MiB)').waitFor();
    // in submission order, filtered by the server
    const rows = page.locator('table.runs tbody tr');
    await rows.nth(2).waitFor();
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run')))).toEqual(['0', '1', '2']);
    await page.getByLabel('Outcome').selectOption('failed');
    await page.getByText('No run is failed').waitFor();
    await page.getByLabel('Outcome').selectOption('complete');
    await page.locator('table.runs:not(.previous) tbody tr[data-outcome="complete"]').nth(2).waitFor();

    await page.goto(`${cluster.url}/#/jobs?status=complete`);
    await page.locator('tr[data-job="sweep"]').waitFor();
    expect(await page.locator('tr[data-job="hog"]').count()).toBe(0); // stopped, filtered out by the server
    await page.getByLabel('Status').selectOption('');
    await page.locator('tr[data-job="hog"]').waitFor();
    await screenshot(page, 'jobs');
  });

  it('follows the logs of a running alloc as they are written', async () => {
    await cluster.client.submitJob(batch('talker', 'i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo "line-$i"; sleep 0.2; done', '32Mi'), 'talker.yaml');
    const d = await waitForJob(cluster.client, 'talker', (x) => x.allocs.some((a) => a.clientStatus === 'running'), 'running');
    const alloc = d.allocs.find((a) => a.clientStatus === 'running')!;
    await page.goto(`${cluster.url}/#/allocs/${alloc.id}`);
    const logs = page.getByTestId('logs');
    await logs.filter({ hasText: 'line-2' }).waitFor();
    const seen = await logs.textContent();
    const last = Math.max(...[...(seen ?? '').matchAll(/line-(\d+)/g)].map((m) => Number(m[1])));
    // lines written after the page loaded arrive on their own
    await logs.filter({ hasText: `line-${last + 5}\n` }).waitFor({ timeout: 30_000 });
    await page.locator('[data-log-state="following"]').waitFor();
    await page.getByRole('heading', { name: 'Memory' }).waitFor();
    // a chart once usage samples exist, else peak against limit from the task state: either names the limit
    await page.locator('figure.chart .limit-label, .bar .bar-text').filter({ hasText: '32 MiB' }).first().waitFor();
    await screenshot(page, 'alloc');
  });

  it('drains a node from its page', async () => {
    await page.goto(`${cluster.url}/#/nodes`);
    await page.locator('tr[data-node="ui-node"]').waitFor();
    await page.locator('tr[data-node="ui-node"] .tag', { hasText: 'zone=a' }).waitFor();
    await screenshot(page, 'nodes');

    await page.locator('tr[data-node="ui-node"] a').first().click();
    await page.getByRole('heading', { name: /ui-node/ }).waitFor();
    await page.getByRole('heading', { name: 'Usage, last hour' }).waitFor();
    await screenshot(page, 'node');
    await page.getByLabel('drain deadline').fill('2m');
    await page.getByRole('button', { name: 'Drain node' }).click();
    await page.locator('h1 .badge', { hasText: 'draining' }).waitFor();
    const n = await waitFor('the drain to be stored', async () => {
      const x = (await cluster.client.getNode(nodeId)).node;
      return x.drain || x.eligibility === 'ineligible' ? x : undefined;
    });
    expect(n.eligibility).toBe('ineligible');
    // the talker batch run is moved off (or finishes); either way the node page follows
    await page.locator('h1 .badge', { hasText: 'ineligible' }).waitFor();
    await page.getByRole('button', { name: 'Make eligible' }).waitFor();
  });

  it('fits a phone-width window', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
    try {
      await ctx.addInitScript((token) => localStorage.setItem('baton.token', token), cluster.adminToken);
      const p = await ctx.newPage();
      for (const route of ['#/', '#/nodes', '#/jobs', '#/jobs/default/sweep']) {
        await p.goto(`${cluster.url}/${route}`);
        await p.locator('h1').first().waitFor();
        await p.locator('.card, .table-wrap').first().waitFor();
        // tables scroll inside their box; the page itself never scrolls sideways
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, route).toBeLessThanOrEqual(0);
      }
      await p.goto(`${cluster.url}/#/`);
      await p.getByRole('heading', { name: 'Overview' }).waitFor();
      await screenshot(p, 'overview-mobile');
    } finally {
      await ctx.close();
    }
  });
});

describe.skipIf(!browserSuiteEnabled())('the sweep page with 100,000 runs, in a browser', () => {
  const TOTAL = 100_000;
  const PART = 10_000;
  let cluster: TestCluster;
  let browser: Browser;
  let page: Page;
  /** every runs listing the page asked for */
  const runRequests: URL[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: '20s' });
    // memory for two runs at a time: a few run, all the others queue
    await cluster.addAgent({ name: 'sweep-node', cpu: '2', memory: '100Mi', drivers: 'exec' });
    await cluster.client.submitJob(
      'name: sim\ntype: batch\nparameterized:\n  meta_required: [i]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    args: ["0.3"]\n    kill_timeout: 500ms\n    resources: { cpu: 100m, memory: 40Mi }\n',
      'sim.yaml',
    );
    // in parts, as `baton dispatch` sends a big sweep: the first part names the sweep, the rest continue it
    const rows = (from: number): DispatchRun[] => Array.from({ length: PART }, (_, k) => ({ meta: { i: String(from + k) } }));
    const first = await cluster.client.dispatch('sim', rows(0));
    for (let offset = PART; offset < TOTAL; offset += PART) await cluster.client.dispatch('sim', rows(offset), 'default', { sweepId: first.sweepId, offset });

    browser = await launchBrowser(await cluster.serverCertPem());
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript((token) => localStorage.setItem('baton.token', token), cluster.adminToken);
    page = await context.newPage();
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.endsWith('/runs')) runRequests.push(u);
    });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  const summary = () => page.getByTestId('sweep-summary');
  const count = (state: string) => summary().locator(`[data-state="${state}"] .stat-num`);
  const num = async (l: Locator) => Number((await l.textContent())?.replace(/,/g, ''));
  /** the rows of the page shown now (not those of the page before, dimmed while the next one loads) */
  const rows = () => page.locator('table.runs:not(.previous) tbody tr');
  /** the outcome of every row the table shows, once it shows rows */
  const shownOutcomes = async () => {
    await rows().first().waitFor();
    return rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-outcome')));
  };

  it('shows the first rows and the counts, and only a page of rows', async () => {
    await page.goto(`${cluster.url}/#/jobs/default/sim`);
    await count('total').filter({ hasText: '100,000' }).waitFor();
    expect(await num(count('queued'))).toBeGreaterThan(TOTAL / 2);
    // the first rows in submission order, with their meta
    const firstRow = rows().first();
    await firstRow.waitFor();
    expect(await firstRow.getAttribute('data-run')).toBe('0');
    expect(await firstRow.locator('td').nth(1).textContent()).toBe('0');
    await page.getByText('runs 1–100 of 100,000').waitFor();
    // the charts draw the first runs only, and say so; `i` has too many values to show one by one: they are binned
    await page.getByRole('heading', { name: 'Charts of the first 2,000 runs of 100,000' }).waitFor();
    const iChart = page.locator('[data-testid="outcome-chart"][data-param="i"]');
    expect(await iChart.locator('g.param-row').count()).toBeLessThanOrEqual(12);
    expect(await iChart.locator('g.param-row').first().getAttribute('data-value')).toBe('0–199');
    const charted = await iChart.locator('g.param-row').evaluateAll((gs) => gs.reduce((s, g) => s + Number(g.getAttribute('data-total')), 0));
    expect(charted).toBe(2000);
    // a page of rows, not 100,000 of them; the whole document stays small
    expect(await rows().count()).toBe(100);
    expect(await page.evaluate(() => document.getElementsByTagName('*').length)).toBeLessThan(5000);
    // why the queued runs wait, per dimension, and when the sweep should end
    await summary().locator('.why', { hasText: 'memory' }).waitFor({ timeout: 30_000 });
    await page.getByTestId('estimated-end').waitFor({ timeout: 30_000 });
    await screenshot(page, 'job', { fullPage: false });
  });

  it('follows live progress without a reload', async () => {
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const before = await num(count('complete'));
    await expect.poll(() => num(count('complete')), { timeout: 60_000, interval: 250 }).toBeGreaterThan(before);
    const queuedBefore = await num(count('queued'));
    await expect.poll(() => num(count('queued')), { timeout: 60_000, interval: 250 }).toBeLessThan(queuedBefore);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  }, 150_000);

  it('filters by outcome on the server, and pages through what the filter holds', async () => {
    await page.getByLabel('Outcome').selectOption('complete');
    await expect.poll(shownOutcomes, { timeout: 30_000 }).toSatisfy((o: Array<string | null>) => o.length > 0 && o.every((x) => x === 'complete'));

    await page.getByLabel('Outcome').selectOption('queued');
    await expect.poll(shownOutcomes, { timeout: 30_000 }).toSatisfy((o: Array<string | null>) => o.length === 100 && o.every((x) => x === 'queued'));
    const firstQueued = Number(await rows().first().getAttribute('data-run'));
    expect(firstQueued).toBeGreaterThan(0); // the runs before it have started
    const lastOnPage = Number(await rows().last().getAttribute('data-run'));
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('[data-page="2"]').waitFor();
    await expect.poll(async () => Number(await rows().first().getAttribute('data-run')), { timeout: 30_000 }).toBeGreaterThan(lastOnPage);
    expect(await rows().count()).toBeLessThanOrEqual(100);
    await page.getByRole('button', { name: 'Previous' }).click();
    await page.locator('[data-page="1"]').waitFor();

    // a click on a count is the same filter
    await count('running').click();
    await expect.poll(() => page.getByLabel('Outcome').inputValue()).toBe('running');

    // the table never asked for more than a page; the charts for their first 2,000 runs, in pages of 1,000, and no further
    const table = runRequests.filter((u) => Number(u.searchParams.get('limit')) <= 100);
    const chart = runRequests.filter((u) => Number(u.searchParams.get('limit')) > 100);
    expect(table.length).toBeGreaterThan(0);
    expect(chart.length).toBeGreaterThan(0);
    for (const u of chart) {
      expect(Number(u.searchParams.get('limit')), String(u)).toBeLessThanOrEqual(1000);
      expect(u.searchParams.get('outcome'), String(u)).toBeNull();
    }
    const refreshes = chart.filter((u) => !u.searchParams.get('cursor')).length;
    expect(chart.length).toBeLessThanOrEqual(refreshes * 2);
  }, 120_000);

  it('opens a run from its row, with the way back to its sweep', async () => {
    await page.goto(`${cluster.url}/#/jobs/default/sim?outcome=complete`);
    await rows().first().locator('a').first().click();
    await page.locator('tr[data-alloc] .badge', { hasText: 'complete' }).first().waitFor();
    expect(await page.locator('h1').textContent()).toMatch(/^sim\//);
    await page.locator('.crumbs a', { hasText: 'sim' }).click();
    await count('total').filter({ hasText: '100,000' }).waitFor();
  });

  it('counts the queued runs on the overview and in the jobs list', async () => {
    await page.goto(`${cluster.url}/#/`);
    const sim = page.locator('.queue li[data-job="sim"]');
    await sim.locator('.badge', { hasText: /\d{2},\d{3} queued/ }).waitFor();
    await sim.locator('.why', { hasText: 'memory' }).waitFor();
    await sim.getByText('ends ≈').waitFor({ timeout: 30_000 });
    await page
      .getByTestId('queue-total')
      .filter({ hasText: /\d{2},\d{3} runs queued/ })
      .waitFor();
    await expect(page.getByText('Nothing is waiting').count()).resolves.toBe(0);
    await screenshot(page, 'overview');

    await page.goto(`${cluster.url}/#/jobs?type=parameterized`);
    await page.locator('tr[data-job="sim"] .runs-cell', { hasText: '100,000 runs' }).waitFor();
  });

  it('stops the sweep from its page', async () => {
    await page.goto(`${cluster.url}/#/jobs/default/sim`);
    await count('total').filter({ hasText: '100,000' }).waitFor();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Stop job' }).click();
    await page.getByRole('button', { name: 'Start again' }).waitFor();
    // the queued runs are stopped in chunks after the stop: the page follows them to the end
    await count('queued').filter({ hasText: /^0$/ }).waitFor({ timeout: 120_000 });
    expect(await num(count('stopped'))).toBeGreaterThan(TOTAL / 2);
  }, 150_000);
});

describe.skipIf(!browserSuiteEnabled())('the sweep page charts, in a browser', () => {
  let cluster: TestCluster;
  let browser: Browser;
  let page: Page;
  const MODES = ['ok', 'fail', 'slow'];
  const SIZES = [1, 2, 3, 4, 5, 6, 7, 8];

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: '20s' });
    await (await cluster.addAgent({ name: 'grid-node', cpu: '2', memory: '300Mi', drivers: 'exec' })).ready();
    // every run with mode=fail exits 3; the others sleep a little, longer for mode=slow; mode=hog fills 64 MiB at once
    // against its 16 MiB (OOM-killed where the exec driver has cgroups, else it just completes)
    const script =
      'case "$BATON_META_MODE" in fail) exit 3;; hog) exec dd if=/dev/zero of=/dev/null bs=64M count=1;; slow) sleep 1.$BATON_META_SIZE;; *) sleep 0.$BATON_META_SIZE;; esac';
    await cluster.client.submitJob(
      `name: grid\ntype: batch\nparameterized:\n  meta_required: [mode, size]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(script)}]\n    kill_timeout: 500ms\n    resources: { cpu: 100m, memory: 16Mi }\n`,
      'grid.yaml',
    );
    await cluster.client.submitJob(
      'name: idle\ntype: batch\nparameterized:\n  meta_required: [x]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 100m, memory: 16Mi }\n',
      'idle.yaml',
    );
    browser = await launchBrowser(await cluster.serverCertPem());
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript((token) => localStorage.setItem('baton.token', token), cluster.adminToken);
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  const charts = () => page.getByTestId('sweep-charts');
  /** what the histogram's bars add up to */
  const binTotal = () =>
    page
      .getByTestId('duration-chart')
      .locator('g.bin')
      .evaluateAll((gs) => gs.reduce((s, g) => s + Number(g.getAttribute('data-count')), 0));
  const row = (param: string, value: string) => page.locator(`[data-testid="outcome-chart"][data-param="${param}"] g.param-row[data-value="${value}"]`);
  const attr = async (l: Locator, name: string) => Number(await l.getAttribute(name));

  it('says there is nothing to chart for a sweep without runs', async () => {
    await page.goto(`${cluster.url}/#/jobs/default/idle`);
    await charts().getByText('No runs yet.').waitFor();
  });

  it('charts a real sweep as its runs finish, without a reload: durations, memory, outcomes by parameter', async () => {
    const runs = [
      ...MODES.flatMap((mode) => SIZES.map((size) => ({ meta: { mode, size: String(size) } }))),
      { meta: { mode: 'hog', size: '1' } },
      { meta: { mode: 'hog', size: '2' } },
    ];
    await cluster.client.dispatch('grid', runs);
    await page.goto(`${cluster.url}/#/jobs/default/grid`);
    await charts().locator('h3', { hasText: 'Duration of finished runs' }).waitFor();
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

    // the histogram fills as runs finish, and ends up holding every finished run that started
    await expect.poll(binTotal, { timeout: 60_000, interval: 250 }).toBe(runs.length);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    const rows = (await cluster.client.runsPage('grid', 'default', { limit: 1000 })).runs;
    expect(rows.filter((r) => r.durationMs !== undefined)).toHaveLength(runs.length);
    await page.locator('[data-testid="sweep-charts"][data-runs="26"]').waitFor();
    await page.getByRole('heading', { name: 'Charts of 26 runs' }).waitFor();
    const hist = page.getByTestId('duration-chart');
    expect(await hist.locator('svg').getAttribute('aria-label')).toMatch(/^Durations of 26 finished runs: p50 \S+, p90 \S+/);
    await hist.locator('[data-quantile="p50"]').waitFor();
    await hist.locator('[data-quantile="p90"]').waitFor();
    // the failed runs are in the bars too, drawn as failed
    expect(await hist.locator('rect.st-failed').count()).toBeGreaterThan(0);

    // outcome by parameter: every failure under mode=fail, none elsewhere; one per size
    await expect.poll(() => attr(row('mode', 'fail'), 'data-failed'), { timeout: 30_000 }).toBe(SIZES.length);
    expect(await attr(row('mode', 'fail'), 'data-complete')).toBe(0);
    for (const mode of ['ok', 'slow']) {
      expect(await attr(row('mode', mode), 'data-complete'), mode).toBe(SIZES.length);
      expect(await attr(row('mode', mode), 'data-failed'), mode).toBe(0);
    }
    const oomKilled = rows.filter((r) => r.outcome === 'oom-killed');
    for (const size of SIZES) {
      const hogs = size <= 2 ? 1 : 0;
      const hogsKilled = oomKilled.filter((r) => r.meta.size === String(size)).length;
      expect(await attr(row('size', String(size)), 'data-failed'), `size ${size}`).toBe(1 + hogsKilled);
      expect(await attr(row('size', String(size)), 'data-total'), `size ${size}`).toBe(MODES.length + hogs);
    }
    expect(await attr(row('mode', 'hog'), 'data-failed')).toBe(oomKilled.length);
    expect(await page.locator('[data-testid="outcome-chart"][data-param="mode"] svg').getAttribute('aria-label')).toContain('failed runs at mode = fail');

    // peak memory against the request, for the runs whose peak the node measured
    const measured = rows.filter((r) => r.peakMemory !== undefined || r.outcome === 'oom-killed').length;
    const mem = charts().getByTestId('memory-chart');
    if (measured > 0) {
      await expect.poll(() => attr(mem, 'data-runs')).toBe(measured);
      expect(await mem.locator('svg').getAttribute('aria-label')).toContain('against the 16 MiB they ask for');
      await mem.locator('.request-label', { hasText: 'asked 16 MiB' }).waitFor();
      // OOM-killed runs stand out, and the verdict says they need more
      expect(await attr(mem, 'data-oom')).toBe(oomKilled.length);
      expect(await mem.locator('g.mem-col.oom').count()).toBe(oomKilled.length);
      if (oomKilled.length > 0)
        await mem
          .getByTestId('memory-verdict')
          .filter({ hasText: `${oomKilled.length} runs were OOM-killed` })
          .waitFor();
    } else {
      await charts().getByText('No run has reported its peak memory yet.').waitFor();
    }
    await screenshot(page, 'sweep-charts', { element: page.locator('section.card', { has: charts() }) });
  });
});
