// Browser end-to-end tests of the web app, in real headless Chromium (playwright-core,
// the system's /usr/bin/chromium). Started by tests/browser/run.sh, which builds the app
// and the server and passes:  node e2e.mjs SERVER_BINARY CONFIG_DIR ARTIFACTS_DIR
// This script starts the server itself (it restarts it once, to test reconnecting, and
// once more before the workshop tests). E2E_ONLY=lessons or E2E_ONLY=workshops runs one part.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [serverBin, configDir, artifacts] = process.argv.slice(2);
const configPath = join(configDir, 'config.toml');
const baseConfig = readFileSync(configPath, 'utf8');
const listen = /^listen = "([^"]+)"/m.exec(baseConfig)[1];
const base = `http://${listen}`;
// Previews are served by a listener of their own: another origin than the app's.
const previewBase = `http://${/^preview_listen = "([^"]+)"/m.exec(baseConfig)[1]}`;
const dataDir = /^data_dir = "([^"]+)"/m.exec(baseConfig)[1];
const only = process.env.E2E_ONLY || '';
const results = { measurements: {}, checks: [] };
let server = null;
let failures = 0;

function log(...a) { console.log('[e2e]', ...a); }
function ok(name) { results.checks.push({ name, ok: true }); log('ok  ', name); }
function check(cond, name, detail = '') {
  if (!cond) throw new Error(`${name}${detail ? ': ' + detail : ''}`);
  ok(name);
}

async function startServer(extra = '') {
  writeFileSync(configPath, baseConfig + extra);
  server = spawn(serverBin, ['serve', '--config', configPath], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  for (let i = 0; i < 150; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) return; } catch { /* not up yet */ }
    await sleep(100);
  }
  throw new Error('the server did not answer /healthz within 15 s');
}
async function stopServer() {
  if (!server) return;
  const s = server; server = null;
  const done = new Promise(r => s.once('exit', r));
  s.kill('SIGTERM');
  await Promise.race([done, sleep(10000)]);
}
const sleep = ms => new Promise(r => setTimeout(r, ms));

// The text of a node's terminal as xterm.js holds it (works with the WebGL renderer too).
async function screen(page, node = 'node1') {
  return page.evaluate(n => {
    const host = document.querySelector(`[data-testid=terminal][data-node="${n}"] .term-host`);
    const t = host && host.__xterm;
    if (!t) return '';
    const b = t.buffer.active, lines = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
    return lines.join('\n').replace(/\n+$/, '');
  }, node);
}
async function waitScreen(page, re, node = 'node1', timeout = 20000) {
  const t0 = Date.now();
  let text = '';
  while (Date.now() - t0 < timeout) {
    text = await screen(page, node);
    if (re.test(text)) return text;
    await sleep(50);
  }
  throw new Error(`terminal ${node} never matched ${re}; it shows:\n${text.split('\n').slice(-15).join('\n')}`);
}
const PROMPT = /root@node1:[^\n]*[#$] ?$/;
const count = (s, sub) => s.split(sub).length - 1;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', e => pageErrors.push(e.message));
page.on('dialog', d => d.accept());
// The app's Content-Security-Policy must not block anything the app itself does.
const cspViolations = [];
const watchCsp = (p, name) => p.on('console', m => {
  if (/Content Security Policy|Content-Security-Policy/i.test(m.text())) cspViolations.push(`${name}: ${m.text()}`);
});
watchCsp(page, 'page');

// The learner's lesson page, from the catalog to the end of a session.
async function lessonTests() {
  // --- Catalog ------------------------------------------------------------------------
  await page.goto(`${base}/`);
  await page.waitForSelector('[data-testid=lesson-card]');
  const paint = await page.evaluate(() => {
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return { fcp: fcp ? Math.round(fcp.startTime) : null, cards: Math.round(performance.now()) };
  });
  // A second, warm load: what a returning visitor sees (wasm from the HTTP cache).
  await page.reload();
  await page.waitForSelector('[data-testid=lesson-card]');
  const warm = await page.evaluate(() => {
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    const cards = performance.getEntriesByName('cards-visible')[0];
    return { fcp: fcp ? Math.round(fcp.startTime) : null };
  });
  const cardsAt = await page.evaluate(() => Math.round(performance.now()));
  results.measurements.catalog_first_contentful_paint_ms = paint.fcp;
  results.measurements.catalog_cards_visible_ms = paint.cards;
  results.measurements.catalog_warm_first_contentful_paint_ms = warm.fcp;
  log('catalog paint', paint, 'warm', warm, cardsAt);
  const cards = await page.$$eval('[data-testid=lesson-card]', els => els.map(e => e.dataset.lesson));
  check(cards.includes('web-e2e') && cards.includes('shell') && cards.includes('docker-5-swarm'),
    'catalog lists the lessons', cards.join(','));
  await page.screenshot({ path: join(artifacts, 'catalog-full.png'), fullPage: true });
  const card = page.locator('[data-testid=lesson-card][data-lesson=web-e2e]');
  const cardText = await card.innerText();
  check(/Browser test lesson/.test(cardText) && /Beginner/.test(cardText) && /5 min/.test(cardText) && /test/.test(cardText),
    'a card shows title, difficulty, duration and tags', cardText);
  await page.fill('input[type=search]', 'browser');
  check((await page.$$('[data-testid=lesson-card]')).length === 1, 'search filters the catalog');
  await page.fill('input[type=search]', 'swarm');
  const swarm = await page.$$eval('[data-testid=lesson-card]', els => els.map(e => e.dataset.lesson));
  check(swarm.length === 1 && swarm[0] === 'docker-5-swarm', 'search finds the Swarm lab', swarm.join(','));
  await page.fill('input[type=search]', '');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=lesson-card]').length >= 2);
  // Keyboard: from the top of the page, Tab reaches the skip link, the search field,
  // then a Start button, in that order.
  await page.reload();
  await page.waitForSelector('[data-testid=lesson-card]');
  const stops = [];
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press('Tab');
    const el = await page.evaluate(() => {
      const a = document.activeElement;
      return a ? (a.dataset.testid || (a.classList.contains('skip-link') ? 'skip-link' : a.type === 'search' ? 'search' : a.tagName.toLowerCase())) : '';
    });
    stops.push(el);
    if (el === 'start') break;
  }
  check(stops[0] === 'skip-link' && stops.includes('search') && stops.at(-1) === 'start'
    && stops.indexOf('search') < stops.length - 1, 'Tab goes skip link, search, ..., Start', stops.join(' > '));
  await page.screenshot({ path: join(artifacts, 'catalog.png') });

  // --- A post to read only: no machines, so no session and no terminal pane ---------------
  const readingCard = page.locator('[data-testid=lesson-card][data-lesson=reading-notes]');
  const readingCardText = await readingCard.innerText();
  check(/Text only/.test(readingCardText) && (await readingCard.locator('[data-testid=start]').innerText()).trim() === 'Read',
    'a lesson with no machines is marked Text only, with a Read button', readingCardText);
  await readingCard.locator('[data-testid=start]').click();
  await page.waitForSelector('[data-testid=reading]');
  check(await page.locator('.terminals-pane').count() === 0 && await page.locator('[data-testid=terminal]').count() === 0,
    'it opens without a terminal pane');
  const readingText = await page.innerText('[data-testid=reading]');
  check(/Step 1 of 2/.test(readingText) && /need no machine/.test(readingText) && /own view of files/.test(readingText),
    'its intro and first step show', readingText);
  await page.locator('[data-testid=reading] button', { hasText: 'Next' }).click();
  check(/Step 2 of 2/.test(await page.innerText('[data-testid=reading]')), 'Next moves on to the second step');
  await page.screenshot({ path: join(artifacts, 'reading.png') });
  const readingRefused = await fetch(`${base}/api/v1/sessions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ lesson: 'reading-notes' }),
  });
  const readingRefusal = await readingRefused.json();
  check(readingRefused.status === 400 && readingRefusal.error.code === 'bad_request' && /no machines/.test(readingRefusal.error.message),
    'the API starts no session for it, and says why', JSON.stringify(readingRefusal));
  await page.goto(`${base}/`);
  await page.waitForSelector('[data-testid=lesson-card]');

  // --- Start a lesson -----------------------------------------------------------------
  const t0 = Date.now();
  await card.locator('[data-testid=start]').click();
  await page.waitForSelector('[data-testid=terminal][data-node=node1] .term-host .xterm');
  await waitScreen(page, PROMPT);
  results.measurements.start_click_to_prompt_ms = Date.now() - t0;
  ok(`a prompt appears ${results.measurements.start_click_to_prompt_ms} ms after Start`);
  check(new URL(page.url()).pathname === '/lessons/web-e2e', 'the URL is the lesson page', page.url());
  const tabs = await page.$$eval('[data-testid=node-tab]', els => els.map(e => e.textContent));
  check(tabs.join(',') === 'node1,node2', 'one tab per node', tabs.join(','));

  // --- Run, Copy, Check ---------------------------------------------------------------
  await page.locator('[data-testid=run]').first().click();
  await waitScreen(page, /^hello-from-run-42$/m);
  ok('Run types the command into node1 and its output shows');
  await page.locator('[data-testid=copy]').first().click();
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  check(clip === 'export GREETING=hello', 'Copy puts the block on the clipboard', JSON.stringify(clip));
  await page.locator('details.fold summary', { hasText: 'Hint' }).click();
  check(await page.locator('details.fold[open]').count() === 1, 'the hint folds out');
  await page.locator('[data-testid=check]').click();
  await page.waitForSelector('[data-testid=check-result]');
  const passed = await page.getAttribute('[data-testid=check-result]', 'data-passed');
  const checkText = await page.innerText('[data-testid=check-result]');
  check(passed === 'true' && /found: hello-from-run-42/.test(checkText), 'the Check passes and shows its output', checkText);
  check(/1 of 2 steps done/.test(await page.innerText('.step-nav')), 'progress counts the passed step');
  // Typing straight into the terminal.
  await page.click('[data-testid=terminal][data-node=node1] .term-host');
  await page.keyboard.type('echo typed-$((40+2))\n');
  await waitScreen(page, /^typed-42$/m);
  ok('keystrokes reach the shell');
  // Copy from the terminal: select the output line, Ctrl+Shift+C.
  await page.evaluate(() => {
    const t = document.querySelector('[data-testid=terminal][data-node=node1] .term-host').__xterm;
    const b = t.buffer.active;
    for (let i = b.length - 1; i >= 0; i--) {
      if (b.getLine(i).translateToString(true) === 'typed-42') { t.selectLines(i, i); return; }
    }
  });
  await page.keyboard.press('Control+Shift+C');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  check(copied.trim() === 'typed-42', 'Ctrl+Shift+C copies the terminal selection', JSON.stringify(copied));
  // Paste into the terminal: Ctrl+Shift+V types the clipboard into the shell.
  await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((6*7))'));
  await page.click('[data-testid=terminal][data-node=node1] .term-host');
  await page.keyboard.press('Control+Shift+V');
  await page.keyboard.press('Enter');
  await waitScreen(page, /^pasted-42$/m);
  ok('Ctrl+Shift+V pastes the clipboard into the shell');
  // Keyboard only: a Run button reached by focus and pressed with Enter.
  await page.locator('[data-testid=run]').first().focus();
  check(await page.evaluate(() => document.activeElement.dataset.testid === 'run'
    && getComputedStyle(document.activeElement).outlineStyle !== 'none'), 'a focused Run button shows its focus');
  await page.keyboard.press('Enter');
  await waitScreen(page, /hello-from-run-42\n(.*\n)*hello-from-run-42/);
  ok('Enter on a focused Run button runs it');
  await page.click('button:has-text("Next")');
  await page.waitForSelector('text=Step 2 of 2');
  ok('Next goes to step 2');
  await sleep(300); // the progress PUT
  await page.screenshot({ path: join(artifacts, 'lesson.png') });

  // --- Reload: same session, same screen, same progress ---------------------------------
  const before = await screen(page);
  const sessionBefore = await page.evaluate(() => sessionStorage.getItem('playground.session.web-e2e'));
  await page.reload();
  await page.waitForSelector('[data-testid=terminal][data-node=node1] .term-host .xterm');
  const after = await waitScreen(page, /^typed-42$/m);
  const sessionAfter = await page.evaluate(() => sessionStorage.getItem('playground.session.web-e2e'));
  check(JSON.parse(sessionAfter).id === JSON.parse(sessionBefore).id, 'reload rejoins the same session');
  check(count(after, 'hello-from-run-42\n') === count(before, 'hello-from-run-42\n') && count(after, 'typed-42\n') === 1,
    'reload shows the same screen, without duplicates', after);
  await page.waitForSelector('text=Step 2 of 2');
  check(/1 of 2 steps done/.test(await page.innerText('.step-nav')), 'reload keeps the progress');

  // --- Preview link: a click opens the page node1 serves, with a preview-only token ------
  await page.locator('[data-testid=run]').nth(2).click(); // the step's web server on node1:8080
  await waitScreen(page, /^web-up-42$/m);
  const previewLink = page.locator('a.preview-link', { hasText: 'open your site' });
  const previewHref = await previewLink.getAttribute('href');
  const sessionId = JSON.parse(sessionAfter).id;
  const previewToken = new URL(previewHref, base).searchParams.get('token');
  check(previewHref.startsWith(`${previewBase}/preview/${sessionId}/node1/8080/?token=`) && /^[0-9a-f]{64}$/.test(previewToken),
    'a preview link points at the preview origin and carries the session\'s preview token after a reload', previewHref);
  check(new URL(previewHref).origin !== new URL(base).origin, 'the preview origin is not the app\'s',
    `${new URL(previewHref).origin} vs ${new URL(base).origin}`);
  check(previewToken !== JSON.parse(sessionAfter).token, 'the preview token is not the session token');
  const [previewTab] = await Promise.all([context.waitForEvent('page'), previewLink.click()]);
  await previewTab.waitForLoadState();
  const previewText = await previewTab.innerText('body');
  check(previewText.trim() === 'served-by-node1-8080', 'clicking the preview link shows the page node1 serves', previewText);
  check(new URL(previewTab.url()).pathname === `/preview/${sessionId}/node1/8080/` && new URL(previewTab.url()).search === '',
    'the preview tab lands on the clean URL (the token became a cookie)', previewTab.url());
  check(new URL(previewTab.url()).origin === previewBase && new URL(previewTab.url()).origin !== new URL(page.url()).origin,
    'the opened preview runs on the preview origin, not the app\'s', `${previewTab.url()} vs ${page.url()}`);
  await previewTab.screenshot({ path: join(artifacts, 'preview.png') });
  // What the issue was about: a preview page registering a service worker (the
  // node's server answers any path with a page; the refusal is the server's 403).
  const sw = await previewTab.evaluate(async () => {
    try { await navigator.serviceWorker.register('sw.js', { scope: './' }); return 'registered'; }
    catch (e) { return String(e && e.message || e); }
  });
  check(/403/.test(sw), 'a preview page cannot register a service worker', sw);
  // Nor frame the app: its answers allow only its own origin as a parent.
  const framed = [];
  previewTab.on('console', m => framed.push(m.text()));
  await previewTab.evaluate(url => new Promise(resolve => {
    const f = document.createElement('iframe');
    f.src = url; f.onload = resolve; document.body.appendChild(f); setTimeout(resolve, 3000);
  }), `${base}/`);
  await sleep(200);
  check(framed.some(t => /frame-ancestors/.test(t)), 'a preview page cannot frame the app', framed.join(' | '));
  await previewTab.close();
  // An old link on the app's origin: redirected to the preview origin, and it works there.
  const [oldTab] = await Promise.all([context.waitForEvent('page'),
    page.evaluate(u => window.open(u, '_blank', 'noopener'), `${base}/preview/${sessionId}/node1/8080/?token=${previewToken}`)]);
  await oldTab.waitForLoadState();
  check(new URL(oldTab.url()).origin === previewBase && (await oldTab.innerText('body')).trim() === 'served-by-node1-8080',
    'an app-origin /preview/ link is redirected to the preview origin', oldTab.url());
  await oldTab.close();
  const apiWithPreviewToken = await fetch(`${base}/api/v1/sessions/${sessionId}`, { headers: { Authorization: `Bearer ${previewToken}` } });
  check(apiWithPreviewToken.status === 403, 'the preview token does not open the API', String(apiWithPreviewToken.status));

  // --- Resize: stty size follows the window ---------------------------------------------
  const sizeOf = async () => {
    const marker = `size-${Date.now() % 100000}`;
    await page.click('[data-testid=terminal][data-node=node1] .term-host');
    await page.keyboard.type(`echo ${marker} $(stty size)\n`);
    const text = await waitScreen(page, new RegExp(`^${marker} (\\d+) (\\d+)$`, 'm'));
    const m = new RegExp(`^${marker} (\\d+) (\\d+)$`, 'm').exec(text);
    return [Number(m[1]), Number(m[2])];
  };
  await page.locator('[data-testid=run]').first().click(); // the step's `stty size` block
  await waitScreen(page, /^\d+ \d+$/m);
  const size1 = await sizeOf();
  await page.setViewportSize({ width: 1000, height: 560 });
  await sleep(500);
  const size2 = await sizeOf();
  check(size2[0] < size1[0] && size2[1] < size1[1], 'stty size follows the window', `${size1} -> ${size2}`);
  results.measurements.stty_size_1280x720 = size1.join('x');
  results.measurements.stty_size_1000x560 = size2.join('x');
  // The divider: dragging it left widens the terminal.
  const box = await page.locator('.divider').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x - 150, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await sleep(400);
  const size3 = await sizeOf();
  check(size3[1] > size2[1], 'dragging the divider widens the terminal', `${size2} -> ${size3}`);
  await page.setViewportSize({ width: 1280, height: 720 });

  // --- Second node: tab and an interrupting Run ----------------------------------------
  await page.locator('[data-testid=run]').nth(1).click();
  await waitScreen(page, /^node2$/m, 'node2');
  check(await page.isVisible('[data-testid=terminal][data-node=node2]'), 'Run on node2 switches to its tab and runs there');

  // --- Restart node: the tab's machine restarts, its terminal comes back -----------------
  await page.click('[data-testid=terminal][data-node=node2] .term-host');
  await page.keyboard.type('echo kept > /root/kept; sleep 600 &\n');
  check((await page.innerText('[data-testid=restart-node]')) === 'Restart node2', 'the restart button names the tab\'s machine');
  await page.click('[data-testid=restart-node]');
  await page.waitForSelector('.toast:has-text("node2 restarted")', { timeout: 30000 });
  await page.click('[data-testid=terminal][data-node=node2] .term-host');
  await page.keyboard.type('echo "after-restart $(cat /root/kept) $(pgrep -fc "sleep 600")"\n');
  await waitScreen(page, /^after-restart kept 0$/m, 'node2', 30000);
  ok('Restart node2: the terminal reconnects to a new shell, files stay, programs are gone');

  // --- Flow control: 10 MB of output, page stays responsive -------------------------------
  await page.click('[data-testid=node-tab][data-node=node1]');
  await page.evaluate(() => {
    window.__lag = 0;
    let last = performance.now();
    window.__lagTimer = setInterval(() => {
      const now = performance.now();
      window.__lag = Math.max(window.__lag, now - last - 50);
      last = now;
    }, 50);
  });
  const tCat = Date.now();
  await page.click('[data-testid=terminal][data-node=node1] .term-host');
  await page.keyboard.type("head -c 10000000 /dev/zero | tr '\\0' 'x' | fold -w 99; echo; echo cat-done-$((1+1))\n");
  await waitScreen(page, /^cat-done-2$/m, 'node1', 120000);
  results.measurements.cat_10mb_ms = Date.now() - tCat;
  results.measurements.cat_10mb_max_main_thread_stall_ms = Math.round(await page.evaluate(() => { clearInterval(window.__lagTimer); return window.__lag; }));
  ok(`10 MB of output took ${results.measurements.cat_10mb_ms} ms, longest main-thread stall ${results.measurements.cat_10mb_max_main_thread_stall_ms} ms`);
  // Echo latency: keystroke to rendered echo, measured in the page.
  const echo = await page.evaluate(async () => {
    const t = document.querySelector('[data-testid=terminal][data-node=node1] .term-host').__xterm;
    const times = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await new Promise(resolve => {
        const d = t.onWriteParsed(() => { d.dispose(); resolve(); });
        t.input('a', true);
      });
      times.push(performance.now() - t0);
    }
    t.input('\x15', true); // Ctrl-U: clear the line
    times.sort((a, b) => a - b);
    return { p50: times[10], max: times[19] };
  });
  results.measurements.echo_p50_ms = Math.round(echo.p50 * 10) / 10;
  results.measurements.echo_max_ms = Math.round(echo.max * 10) / 10;
  ok(`keystroke echo p50 ${results.measurements.echo_p50_ms} ms, max ${results.measurements.echo_max_ms} ms`);

  // --- Server restart: the terminal reconnects and repaints -------------------------------
  await page.keyboard.type('clear; echo before-restart\n');
  await waitScreen(page, /^before-restart$/m);
  await stopServer();
  await page.waitForSelector('.term-status', { timeout: 10000 });
  ok('a dropped connection shows a status');
  await startServer('\nmax_sessions = 1\nretry_after_secs = 2\n');
  await page.waitForSelector('[data-testid=terminal][data-node=node1] .term-status', { state: 'detached', timeout: 30000 });
  const repainted = await waitScreen(page, /^before-restart$/m);
  check(count(repainted, 'before-restart\n') === 1, 'after reconnecting the screen is the same, once');
  await page.keyboard.type('echo after-restart\n');
  await waitScreen(page, /^after-restart$/m);
  ok('typing works after reconnecting');

  // --- Server full: a clear screen, then an automatic retry -------------------------------
  const other = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page2 = await other.newPage();
  page2.on('pageerror', e => pageErrors.push('page2: ' + e.message));
  watchCsp(page2, 'page2');
  page2.on('dialog', d => d.accept());
  await page2.goto(`${base}/`);
  await page2.locator('[data-testid=lesson-card][data-lesson=shell] [data-testid=start]').click();
  await page2.waitForSelector('text=The playground is full');
  ok('a full server shows a clear screen with a retry');
  await page2.screenshot({ path: join(artifacts, 'full.png') });

  // --- End session -------------------------------------------------------------------
  await page.click('button:has-text("End session")');
  await page.waitForSelector('text=This session has ended');
  ok('End session shows the ended screen');
  await page.screenshot({ path: join(artifacts, 'ended.png') });
  await page2.waitForSelector('[data-testid=terminal] .term-host .xterm', { timeout: 30000 });
  const p2 = await (async () => {
    const t0 = Date.now();
    while (Date.now() - t0 < 20000) {
      const s = await page2.evaluate(() => {
        const h = document.querySelector('[data-testid=terminal] .term-host');
        const t = h && h.__xterm; if (!t) return '';
        const b = t.buffer.active; let out = '';
        for (let i = 0; i < b.length; i++) out += b.getLine(i).translateToString(true) + '\n';
        return out;
      });
      if (PROMPT.test(s.trimEnd())) return true;
      await sleep(100);
    }
    return false;
  })();
  check(p2, 'the waiting page retried by itself and got a session');
  // Narrow layout of a lesson page.
  await page2.setViewportSize({ width: 400, height: 800 });
  await sleep(300);
  await page2.screenshot({ path: join(artifacts, 'lesson-narrow.png'), fullPage: true });
  const overflow = await page2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, 'no horizontal scrolling at 400 px', `${overflow}px too wide`);
  await page2.click('button:has-text("End session")');
  await page2.waitForSelector('text=This session has ended');
  await other.close();

  // --- A course lab: a dind node, its first Run block, a screenshot ----------------------
  const lab = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page3 = await lab.newPage();
  page3.on('pageerror', e => pageErrors.push('page3: ' + e.message));
  watchCsp(page3, 'page3');
  page3.on('dialog', d => d.accept());
  await page3.goto(`${base}/lessons/docker-3-build-and-share`);
  await page3.locator('[data-testid=start]').first().click();
  await page3.waitForSelector('[data-testid=terminal][data-node=node1] .term-host .xterm', { timeout: 60000 });
  const labScreen = () => page3.evaluate(() => {
    const t = document.querySelector('[data-testid=terminal][data-node=node1] .term-host').__xterm;
    if (!t) return '';
    const b = t.buffer.active; let out = '';
    for (let i = 0; i < b.length; i++) out += b.getLine(i).translateToString(true) + '\n';
    return out;
  });
  for (let i = 0; i < 300 && !/root@node1:[^\n]*#\s*$/.test((await labScreen()).trimEnd() + ' '); i++) await sleep(100);
  await page3.locator('[data-testid=run]').first().click();
  for (let i = 0; i < 100 && !/style\.css/.test(await labScreen()); i++) await sleep(100);
  await sleep(500);
  await page3.screenshot({ path: join(artifacts, 'lesson-course.png') });
  check(/style\.css/.test(await labScreen()), 'a course lab runs its first block in a dind node');
  await page3.click('button:has-text("End session")');
  await page3.waitForSelector('text=This session has ended');
  await lab.close();

  // --- A captured value: Run on node2 fills in what node1 printed -------------------------
  const carry = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page4 = await carry.newPage();
  page4.on('pageerror', e => pageErrors.push('page4: ' + e.message));
  watchCsp(page4, 'page4');
  page4.on('dialog', d => d.accept());
  await page4.goto(`${base}/lessons/web-captures`);
  await page4.locator('[data-testid=start]').first().click();
  await page4.waitForSelector('[data-testid=terminal][data-node=node1] .term-host .xterm', { timeout: 60000 });
  await waitScreen(page4, PROMPT);
  const runs = page4.locator('[data-testid=run]');
  // Before node1 printed it, the value is unknown: the learner is told what to run.
  await runs.nth(1).click();
  const early = await page4.waitForSelector('.toast:has-text("NODE1_IP")', { timeout: 10000 });
  check(/has no value yet/.test(await early.innerText()) && /node1/.test(await early.innerText()),
    'a block whose value is not captured yet says which node prints it', await early.innerText());
  await runs.nth(0).click();
  const node1Text = await waitScreen(page4, /^\s*\d+\.\d+\.\d+\.\d+\s*$/m);
  const ip = /^\s*(\d+\.\d+\.\d+\.\d+)\s*$/m.exec(node1Text)[1];
  await runs.nth(1).click();
  const node2Text = await waitScreen(page4, /^node2 got \S+$/m, 'node2');
  check(new RegExp(`^node2 got ${ip.replace(/\./g, '\\.')}$`, 'm').test(node2Text) && !node2Text.includes('{{'),
    'Run on node2 types the address node1 printed', node2Text.split('\n').slice(-4).join(' | '));
  await page4.screenshot({ path: join(artifacts, 'lesson-captures.png') });
  await page4.click('button:has-text("End session")');
  await page4.waitForSelector('text=This session has ended');
  await carry.close();

}

// An instructor and three learners, each in a browser context of their own: the admin
// login, a workshop created and shown for the projector, joins (and what a join can be
// refused for), a passed step on the instructor's grid, Watch (read-only, the learner sees
// the badge), End for one learner, the sessions table and its End, End workshop.
async function workshopTests() {
  // A fresh server with the base config (the lesson tests left it at max_sessions = 1).
  await stopServer();
  await startServer();
  const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const contexts = [];
  const open = async (name, viewport = { width: 1280, height: 720 }) => {
    const ctx = await browser.newContext({ viewport });
    contexts.push(ctx);
    const p = await ctx.newPage();
    p.on('pageerror', e => pageErrors.push(`${name}: ${e.message}`));
    p.on('dialog', d => d.accept());
    watchCsp(p, name);
    return { ctx, page: p };
  };
  const { ctx: adminCtx, page: admin } = await open('instructor', { width: 1280, height: 800 });
  await adminCtx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const learners = {};
  try {
    // --- Admin login: a wrong token is refused, the right one kept for the tab ---------
    await admin.goto(`${base}/admin`);
    await admin.waitForSelector('[data-testid=admin-login]');
    check(await admin.evaluate(() => document.activeElement && document.activeElement.type === 'password'),
      'the admin login focuses its token field');
    await admin.fill('[data-testid=admin-login] input', 'not-the-admin-token');
    await admin.click('[data-testid=admin-login] button[type=submit]');
    await admin.waitForSelector('text=That is not the admin token');
    await admin.screenshot({ path: join(artifacts, 'admin-login.png') });
    ok('a wrong admin token shows a clear error and the form stays');
    await admin.fill('[data-testid=admin-login] input', adminToken);
    await admin.keyboard.press('Enter');
    await admin.waitForSelector('[data-testid=workshop-create]');
    ok('the admin token opens /admin');
    await admin.reload();
    await admin.waitForSelector('[data-testid=workshop-create]');
    ok('the admin token is kept for the tab (a reload stays signed in)');

    // --- Create a workshop --------------------------------------------------------------
    await admin.waitForSelector('[data-testid=workshop-lesson] option[value=web-e2e]', { state: 'attached' });
    await admin.selectOption('[data-testid=workshop-lesson]', 'web-e2e');
    await admin.fill('[data-testid=workshop-seats]', '3');
    await admin.selectOption('[data-testid=workshop-duration]', '60');
    await admin.click('[data-testid=workshop-create]');
    await admin.waitForSelector('[data-testid=workshop-code]');
    const code = (await admin.innerText('[data-testid=workshop-code]')).trim();
    check(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code), 'creating a workshop shows its code', code);
    const workshopPath = new URL(admin.url()).pathname;
    check(/^\/admin\/workshops\/[0-9a-f]+$/.test(workshopPath), 'the workshop has a page of its own', workshopPath);
    const joinUrl = await admin.getAttribute('[data-testid=join-url]', 'href');
    check(joinUrl === `${base}/join/${code}`, 'the join link is shown', joinUrl);
    const codePx = await admin.$eval('[data-testid=workshop-code]', el => parseFloat(getComputedStyle(el).fontSize));
    const codeContrast = await admin.$eval('[data-testid=workshop-code]', el => [getComputedStyle(el).color, getComputedStyle(el.closest('.projector')).backgroundColor]);
    check(codePx >= 48, 'the code is large enough for a projector', `${codePx}px, ${codeContrast.join(' on ')}`);
    await admin.click('button:has-text("Copy link")');
    check(await admin.evaluate(() => navigator.clipboard.readText()) === joinUrl, 'Copy link puts the join link on the clipboard');
    await admin.reload();
    await admin.waitForSelector('[data-testid=workshop-code]');
    check((await admin.innerText('[data-testid=workshop-code]')).trim() === code, 'the workshop page survives a reload');

    // --- Joins, and what a join is refused for -------------------------------------------
    const openJoin = async (name, screenshot = null) => {
      const l = await open(name);
      await l.page.goto(joinUrl);
      await l.page.waitForSelector('[data-testid=join-name]');
      await l.page.fill('[data-testid=join-name]', name);
      if (screenshot) await l.page.screenshot({ path: join(artifacts, screenshot) });
      return l;
    };
    const joinTimes = [];
    for (const name of ['Ada', 'Grace']) {
      const l = await openJoin(name, name === 'Ada' ? 'join.png' : null);
      const t0 = Date.now();
      await l.page.click('[data-testid=join-submit]');
      await l.page.waitForSelector('[data-testid=terminal][data-node=node1] .term-host .xterm', { timeout: 60000 });
      await waitScreen(l.page, PROMPT, 'node1', 60000);
      joinTimes.push(Date.now() - t0);
      check(new URL(l.page.url()).pathname === '/lessons/web-e2e', `${name} joins and lands on the lesson with a prompt`, l.page.url());
      // The join page is replaced in the history: Back from the lesson does not rejoin.
      check(await l.page.evaluate(() => history.length) === 2, `${name}'s join page is replaced by the lesson in the history`);
      learners[name] = l;
    }
    const taken = await open('name-taken');
    await taken.page.goto(joinUrl);
    await taken.page.fill('[data-testid=join-name]', 'Grace');
    await taken.page.click('[data-testid=join-submit]');
    await taken.page.waitForSelector('text=already uses this name');
    ok('a name already in the workshop is refused with a clear message');
    await taken.page.fill('[data-testid=join-name]', 'Linus');
    const t0 = Date.now();
    await taken.page.click('[data-testid=join-submit]');
    await waitScreen(taken.page, PROMPT, 'node1', 60000);
    joinTimes.push(Date.now() - t0);
    ok('another name then joins from the same page');
    learners.Linus = taken;
    results.measurements.workshop_join_click_to_prompt_ms = joinTimes;
    log('join click to prompt (ms)', joinTimes.join(', '));
    const full = await open('full');
    await full.page.goto(joinUrl);
    await full.page.fill('[data-testid=join-name]', 'Dennis');
    await full.page.click('[data-testid=join-submit]');
    await full.page.waitForSelector('text=This workshop is full');
    ok('a fourth learner is told the workshop is full');
    await full.page.goto(`${base}/join/ZZZZ-ZZZ0`);
    await full.page.fill('[data-testid=join-name]', 'Dennis');
    await full.page.click('[data-testid=join-submit]');
    await full.page.waitForSelector('text=No open workshop has this code');
    ok('a wrong code is told apart from a full workshop');
    await full.page.fill('[data-testid=join-name]', '   ');
    await full.page.click('[data-testid=join-submit]');
    await full.page.waitForSelector('text=Enter your name');
    ok('an empty name is refused before asking the server');
    // The same browser coming back to the link gets its session back (a new tab: its own
    // session storage, the same local storage).
    const adaSession = await learners.Ada.page.evaluate(() => JSON.parse(sessionStorage.getItem('playground.session.web-e2e')).id);
    const again = await learners.Ada.ctx.newPage();
    await again.goto(joinUrl);
    await again.waitForURL(`${base}/lessons/web-e2e`);
    await waitScreen(again, PROMPT);
    const againSession = await again.evaluate(() => JSON.parse(sessionStorage.getItem('playground.session.web-e2e')).id);
    check(againSession === adaSession, 'the same browser visiting the join link again gets its session back', `${adaSession} vs ${againSession}`);
    await again.close();

    // --- The instructor's grid: three learners, one passes a step -------------------------
    await admin.waitForFunction(() => document.querySelectorAll('[data-testid=learner-row]').length === 3, null, { timeout: 10000 });
    const names = await admin.$$eval('[data-testid=learner-row]', els => els.map(e => e.dataset.name));
    check(names.join(',') === 'Ada,Grace,Linus', 'the grid lists the three learners in the order they joined', names.join(','));
    const ada = learners.Ada.page;
    await ada.locator('[data-testid=run]').first().click();
    await waitScreen(ada, /^hello-from-run-42$/m);
    await ada.click('[data-testid=check]');
    await ada.waitForSelector('[data-testid=check-result][data-passed=true]');
    const tPass = Date.now();
    await admin.waitForSelector('[data-testid=learner-row][data-name=Ada][data-passed="1"]', { timeout: 10000 });
    results.measurements.grid_shows_pass_after_ms = Date.now() - tPass;
    const adaRow = await admin.innerText('[data-testid=learner-row][data-name=Ada]');
    check(/1\/2/.test(adaRow), `the grid shows Ada's passed step (1/2) ${results.measurements.grid_shows_pass_after_ms} ms after the check`, adaRow);
    check(/0\/2/.test(await admin.innerText('[data-testid=learner-row][data-name=Grace]')), 'the others still show 0/2');
    check(await admin.locator('[data-testid=learner-row][data-name=Ada] .strip .mark.passed').count() === 1, 'the step strip marks the passed step');

    // --- Watch: read-only terminals of that learner, and the learner sees the badge --------
    check(await ada.$('[data-testid=watched]') === null, 'nobody watches yet: no badge');
    await admin.click('[data-testid=learner-row][data-name=Ada] [data-testid=watch]');
    await admin.waitForSelector('[data-testid=watch-panel] [data-testid=terminal][data-node=node1] .term-host .xterm');
    const tabsW = await admin.$$eval('[data-testid=watch-panel] [data-testid=node-tab]', els => els.map(e => e.textContent));
    check(tabsW.join(',') === 'node1,node2', 'Watch opens one tab per node', tabsW.join(','));
    await waitScreen(admin, /^hello-from-run-42$/m);
    ok('the watch terminal repaints what the learner\'s terminal shows');
    await ada.waitForSelector('[data-testid=watched]', { timeout: 10000 });
    check(/instructor is watching/i.test(await ada.innerText('[data-testid=watched]')), 'the watched learner\'s page shows the badge');
    check(await learners.Grace.page.$('[data-testid=watched]') === null, 'other learners show no badge');
    const marker = `seen-by-instructor-${Date.now() % 100000}`;
    await ada.click('[data-testid=terminal][data-node=node1] .term-host');
    await ada.keyboard.type(`echo ${marker}-$((6*7))\n`);
    await waitScreen(admin, new RegExp(`^${marker}-42$`, 'm'));
    ok('what the learner types shows in the watch terminal');
    await ada.screenshot({ path: join(artifacts, 'lesson-watched.png') });
    await admin.click('[data-testid=watch-panel] [data-testid=terminal][data-node=node1] .term-host');
    await admin.keyboard.type('echo typed-by-watcher\n');
    await sleep(1000);
    check(!/typed-by-watcher/.test(await screen(ada)), 'the watch terminal is read-only: nothing typed there reaches the shell');
    await admin.click('[data-testid=watch-panel] [data-testid=node-tab][data-node=node2]');
    await admin.waitForSelector('[data-testid=watch-panel] [data-testid=terminal][data-node=node2] .term-host .xterm');
    await waitScreen(admin, /root@node2/, 'node2');
    ok('the node2 tab watches node2');
    await admin.screenshot({ path: join(artifacts, 'workshop-watch.png') });
    await admin.keyboard.press('Escape');
    await admin.waitForSelector('[data-testid=watch-panel]', { state: 'detached' });
    await ada.waitForSelector('[data-testid=watched]', { state: 'detached', timeout: 10000 });
    ok('closing the watch panel (Escape) hides the learner\'s badge');
    await admin.evaluate(() => window.scrollTo(0, 0));
    await admin.screenshot({ path: join(artifacts, 'workshop.png'), fullPage: true });
    await admin.click('button:has-text("Present full screen")');
    await sleep(200);
    await admin.screenshot({ path: join(artifacts, 'workshop-projector.png') });
    await admin.keyboard.press('Escape');
    await admin.waitForSelector('.projector.presenting', { state: 'detached' });
    await admin.setViewportSize({ width: 400, height: 800 });
    await sleep(300);
    await admin.screenshot({ path: join(artifacts, 'workshop-narrow.png'), fullPage: true });
    const wideBy = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(wideBy <= 0, 'no horizontal scrolling on the workshop page at 400 px', `${wideBy}px too wide`);
    await admin.setViewportSize({ width: 1280, height: 800 });

    // --- End one learner from the grid --------------------------------------------------
    await admin.click('[data-testid=learner-row][data-name=Linus] [data-testid=end-learner]');
    await admin.waitForSelector('[data-testid=learner-row][data-name=Linus]', { state: 'detached', timeout: 10000 });
    ok('End removes the learner from the grid');
    await learners.Linus.page.waitForSelector('text=This session has ended', { timeout: 20000 });
    ok('the ended learner\'s page says the session has ended');
    // A learner of a workshop is offered the workshop again, which gives a new seat.
    const linusOld = await learners.Linus.page.evaluate(() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find(k => k.startsWith('playground.workshop.')))).session);
    await learners.Linus.page.click('[data-testid=rejoin]');
    await waitScreen(learners.Linus.page, PROMPT, 'node1', 60000);
    const linusNew = await learners.Linus.page.evaluate(() => JSON.parse(sessionStorage.getItem('playground.session.web-e2e')).id);
    check(linusNew !== linusOld, 'Rejoin the workshop on the ended page gives the learner a new seat', `${linusOld} -> ${linusNew}`);
    await admin.waitForSelector('[data-testid=learner-row][data-name=Linus]', { timeout: 10000 });
    ok('the rejoined learner is back in the grid');

    // --- The sessions table: every live session, End ------------------------------------
    const anon = await (await fetch(`${base}/api/v1/sessions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lesson: 'shell' }),
    })).json();
    await admin.click('a:has-text("← Admin")');
    await admin.waitForURL(`${base}/admin`);
    await admin.waitForSelector(`[data-testid=session-row][data-session="${anon.id}"]`, { timeout: 10000 });
    const rows = await admin.$$eval('[data-testid=session-row]', els => els.map(e => e.innerText));
    check(rows.length === 4 && rows.some(r => /Ada/.test(r) && r.includes(`workshop ${code}`)) && rows.some(r => /Grace/.test(r))
      && rows.some(r => /Linus/.test(r))
      && rows.some(r => /anonymous/.test(r) && /shell/.test(r)), 'the sessions table lists the live sessions with learner and workshop', rows.join(' | '));
    check(/step 1 of \d+ · 1 passed/.test(rows.find(r => /Ada/.test(r))), 'the sessions table shows progress', rows.find(r => /Ada/.test(r)));
    check(await admin.locator('[data-testid=workshop-item]').count() === 1, 'the open workshops are listed');
    await admin.screenshot({ path: join(artifacts, 'admin.png'), fullPage: true });
    await admin.click(`[data-testid=session-row][data-session="${anon.id}"] [data-testid=end-session]`);
    await admin.waitForSelector(`[data-testid=session-row][data-session="${anon.id}"]`, { state: 'detached', timeout: 10000 });
    const gone = await fetch(`${base}/api/v1/sessions/${anon.id}`, { headers: { Authorization: `Bearer ${anon.token}` } });
    check(gone.status === 404, 'End in the sessions table ends the session', String(gone.status));
    const graceId = await learners.Grace.page.evaluate(() => JSON.parse(sessionStorage.getItem('playground.session.web-e2e')).id);
    await admin.click(`[data-testid=session-row][data-session="${graceId}"] [data-testid=end-session]`);
    await learners.Grace.page.waitForSelector('text=This session has ended', { timeout: 20000 });
    ok('End in the sessions table ends a learner\'s session and their page says so');
    // Narrow screens: no horizontal scrolling.
    await admin.setViewportSize({ width: 400, height: 800 });
    await sleep(300);
    await admin.screenshot({ path: join(artifacts, 'admin-narrow.png'), fullPage: true });
    const overflow = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, 'no horizontal scrolling on /admin at 400 px', `${overflow}px too wide`);
    await admin.setViewportSize({ width: 1280, height: 800 });

    // --- End workshop: back to /admin, the last learner's session ends, the code is dead --
    await admin.click('[data-testid=workshop-item] a');
    await admin.waitForSelector('[data-testid=workshop-code]');
    await admin.click('[data-testid=workshop-end]');
    await admin.waitForURL(`${base}/admin`);
    await admin.waitForSelector('text=No workshop is open');
    await ada.waitForSelector('text=This session has ended', { timeout: 20000 });
    ok('End workshop ends the last learner\'s session and closes the workshop');
    await ada.goto(joinUrl);
    await ada.waitForSelector('text=No open workshop has this code');
    ok('the join link of an ended workshop says so');
  } catch (e) {
    for (const [name, p] of [['instructor', admin], ...Object.entries(learners).map(([n, l]) => [n, l.page])]) {
      try { await p.screenshot({ path: join(artifacts, `failure-workshop-${name}.png`) }); } catch { /* closed */ }
    }
    throw e;
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
  }
}

try {
  await startServer();
  if (only !== 'workshops') await lessonTests();
  if (only !== 'lessons') await workshopTests();

  check(pageErrors.length === 0, 'no uncaught errors in the page', pageErrors.join('; '));
  check(cspViolations.length === 0, 'the app\'s Content-Security-Policy blocks nothing it uses', cspViolations.join('; '));
} catch (e) {
  failures++;
  console.error('[e2e] FAIL', e.message);
  results.checks.push({ name: e.message, ok: false });
  try { await page.screenshot({ path: join(artifacts, 'failure.png') }); } catch { /* closed */ }
} finally {
  await browser.close();
  await stopServer();
  writeFileSync(join(artifacts, 'browser-results.json'), JSON.stringify(results, null, 2));
  log('measurements', JSON.stringify(results.measurements));
}
process.exit(failures ? 1 : 0);
