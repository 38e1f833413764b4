// The dashboard in a real browser (issue: the page loads, shows three nodes and one
// leader, reflects a leadership transfer within a few seconds, takes a snapshot, and
// a screenshot is saved). Starts three real raftd processes on free loopback ports
// with temporary data directories, and drives Debian's headless Chromium with
// playwright-core.
//   node dashboard_test.mjs RAFTD CHROMIUM WORKDIR
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [raftd, chromiumPath, workDir] = process.argv.slice(2);
if (!raftd || !chromiumPath || !workDir) {
  console.error('usage: node dashboard_test.mjs RAFTD CHROMIUM WORKDIR');
  process.exit(2);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, timeoutMs, check) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
}

async function status(clientPort) {
  const response = await fetch(`http://127.0.0.1:${clientPort}/v1/status`);
  return response.json();
}

const dataRoot = mkdtempSync(join(tmpdir(), 'raftd-dashboard-'));
const processes = [];
const pageErrors = [];  // uncaught script errors on the page: any fails the test
let browser;

async function main() {
  const nodes = [];
  for (const name of ['n1', 'n2', 'n3']) nodes.push({ name, peer: await freePort(), client: await freePort() });
  const initialCluster = nodes.map((n) => `${n.name}=127.0.0.1:${n.peer}`).join(',');
  for (const n of nodes) {
    const log = openSync(join(workDir, `${n.name}.log`), 'w');
    processes.push(spawn(raftd, [
      '--id', n.name, '--data-dir', join(dataRoot, n.name),
      '--listen-peer', `127.0.0.1:${n.peer}`, '--listen-client', `127.0.0.1:${n.client}`,
      '--initial-cluster', initialCluster,
    ], { stdio: ['ignore', log, log] }));
  }
  const first = nodes[0].client;
  await waitFor('a leader', 15000, async () => (await status(first)).leader);
  // Some load, so the charts and indexes have something to show.
  for (let i = 0; i < 20; ++i) {
    await fetch(`http://127.0.0.1:${nodes[i % 3].client}/v1/kv/key${i}`, { method: 'PUT', body: `value ${i}` });
  }

  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const url = `http://127.0.0.1:${first}/`;
  const response = await page.goto(url);
  if (!response || response.status() !== 200) throw new Error(`GET ${url}: ${response && response.status()}`);

  // Three nodes, exactly one of them the leader, and the summary names it.
  let seen = '';
  const leaderBefore = await waitFor('three nodes and one leader on the page', 10000, async () => {
    const states = await page.$$eval('[data-testid=node]', (els) => els.map((e) => `${e.dataset.id}:${e.dataset.state}`));
    seen = `${states.join(' ')} (summary: ${await page.textContent('[data-testid=summary]')})`;
    const leaders = await page.$$eval('[data-testid=node][data-state=leader]', (els) => els.map((e) => e.dataset.id));
    return states.length === 3 && leaders.length === 1 ? leaders[0] : null;
  }).catch((e) => { throw new Error(`${e.message}; the page shows ${seen}`); });
  const summaryLeader = await page.getAttribute('[data-testid=summary]', 'data-leader');
  if (summaryLeader !== leaderBefore) throw new Error(`summary names ${summaryLeader}, cards ${leaderBefore}`);
  console.log(`page shows 3 nodes, leader ${leaderBefore}`);

  // Replication progress of both followers.
  await waitFor('two follower progress rows', 5000, async () =>
    (await page.$$('[data-testid=progress-row]')).length === 2);

  // Transfer leadership with the button; the page shows the new leader within 5 s.
  const started = Date.now();
  await page.click('[data-testid=transfer]');
  const leaderAfter = await waitFor('the page to show a new leader', 5000, async () => {
    const leaders = await page.$$eval('[data-testid=node][data-state=leader]', (els) => els.map((e) => e.dataset.id));
    return leaders.length === 1 && leaders[0] !== leaderBefore ? leaders[0] : null;
  });
  console.log(`transfer: ${leaderBefore} -> ${leaderAfter}, shown after ${Date.now() - started} ms`);
  const truth = await status(first);
  if (truth.leader !== leaderAfter) throw new Error(`page shows ${leaderAfter}, cluster says ${truth.leader}`);

  // The serving node's timeline shows the new leader, by name (not by numeric id).
  await waitFor(`"leader is ${leaderAfter}" on the timeline`, 5000, async () =>
    (await page.textContent('[data-testid=timeline]')).includes(`leader is ${leaderAfter} in term ${truth.term}`));

  // Snapshot button.
  await page.click('[data-testid=snapshot]');
  await waitFor('the snapshot message', 5000, async () =>
    /snapshot at index \d+/.test(await page.textContent('[data-testid=message]')));
  console.log(`snapshot: ${await page.textContent('[data-testid=message]')}`);

  await sleep(1200);  // one more refresh, so the screenshot shows the latest state
  const shot = join(workDir, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  if (pageErrors.length) throw new Error(`script errors on the page: ${pageErrors.join('; ')}`);
}

let failed = false;
try {
  await main();
  console.log('dashboard test passed');
} catch (e) {
  failed = true;
  console.error('dashboard test FAILED:', e.message);
  if (pageErrors.length) console.error(`script errors on the page: ${pageErrors.join('; ')}`);
  console.error(`raftd logs: ${workDir}/n*.log`);
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const p of processes) p.kill('SIGKILL');
  await sleep(200);
  rmSync(dataRoot, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
