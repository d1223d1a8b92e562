// The API docs page in a real browser: Debian's Chromium, driven by
// playwright-core, opens /docs?token= on a service spawned from the real
// binary (no VM needed) and finds Swagger UI's operations, GET /api/v1/vms
// among them, with no uncaught error and no Content-Security-Policy
// violation; the token leaves the address and lives on only as a docs
// session cookie that scripts cannot read. "Try it out" on GET /api/v1/vms
// is refused (401) until the token is given to "Authorize", then answers
// 200, sending the token as a Bearer header and no cookie; nothing is kept
// in the page's storage. Without the token the page is 401.
//
// Run: npm ci --prefix tests/browser && node --test tests/browser/docs.test.mjs
// (ctest runs `node tests/browser/docs.test.mjs`; exit code 77 = skipped).
// Environment: MVS_APP_BINARY (default build/dev/app/microvm-sandbox),
// MVS_CHROMIUM (default /usr/bin/chromium), MVS_BROWSER_HEADED=1 to watch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserOrSkip, launchChromium, makeLog, request, sleep, startService, stepper } from './harness.mjs';

const { chromium, skipReason } = await browserOrSkip();
const log = makeLog('docs');
const get = async (port, urlPath, headers = {}) => (await request(port, 'GET', urlPath, { headers })).status;

test('API docs in Chromium: Swagger UI with the token, try-it-out with Authorize, 401 without', { skip: skipReason ?? false, timeout: 170_000 }, async (t) => {
    const service = await startService('docs');
    const { port, token, base } = service;
    let browser;
    let failed = false;
    const step = stepper(t);
    try {
        const deadline = Date.now() + 30_000;
        while ((await get(port, '/api/v1/health').catch(() => 0)) !== 200) {
            assert.ok(Date.now() < deadline, 'the service did not answer /api/v1/health within 30 s');
            await sleep(100);
        }
        log(`service up on ${base}`);

        browser = await launchChromium(chromium);
        log(`Chromium ${browser.version()}`);
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        // CSP violations as the page sees them (the console reports them too).
        await context.addInitScript(() => {
            window.mvsCspViolations = [];
            document.addEventListener('securitypolicyviolation', (e) => window.mvsCspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`));
        });
        const page = await context.newPage();
        const cspViolations = () => page.evaluate(() => window.mvsCspViolations);
        const problems = []; // uncaught errors, CSP violations, console errors
        page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
        page.on('console', (m) => {
            // The 401 of "Try it out" before "Authorize" is expected (and asserted).
            if (m.type() === 'error' && !m.text().includes('status of 401 (Unauthorized)'))
                problems.push(`console.error: ${m.text()}`);
        });
        const apiRequests = []; // what "Try it out" sent to /api/v1/vms
        page.on('request', async (r) => {
            if (new URL(r.url()).pathname === '/api/v1/vms')
                apiRequests.push(r.allHeaders());
        });
        const foreign = [];
        page.on('request', (r) => {
            if (!r.url().startsWith(base) && !r.url().startsWith('data:'))
                foreign.push(r.url());
        });

        await step('the page renders the operations with ?token=, then forgets the token', async () => {
            const response = await page.goto(`${base}/docs?token=${token}`);
            assert.equal(response.status(), 200);
            const headers = await response.allHeaders();
            assert.match(headers['content-security-policy'] ?? '', /default-src 'none'/);
            assert.match(headers['set-cookie'] ?? '', /^mvs_docs=[0-9a-f]{64};/);
            assert.doesNotMatch(headers['set-cookie'], new RegExp(token));
            const vms = page.locator('.opblock-get .opblock-summary-path[data-path="/api/v1/vms"]');
            await vms.waitFor({ timeout: 30_000 });
            const operations = await page.locator('.opblock').count();
            const documented = await page.evaluate(async () => {
                const doc = await (await fetch('/api/v1/openapi.json')).json();
                const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
                return Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).filter((k) => methods.includes(k)).length, 0);
            });
            log(`Swagger UI shows ${operations} operations`);
            assert.equal(operations, documented, 'every operation of the document is on the page');
            assert.equal(await page.locator('.opblock-summary-path[data-path="/api/v1/vms/{name}/exec"]').count(), 1);
            assert.equal(page.url(), `${base}/docs`, 'the token must be gone from the address');
            assert.doesNotMatch(await page.content(), new RegExp(token), 'the token is not in the page');
            const session = (await context.cookies(base)).find((c) => c.name === 'mvs_docs');
            assert.ok(session, 'no mvs_docs cookie');
            assert.equal(session.httpOnly, true);
            assert.equal(session.sameSite, 'Strict');
            assert.equal(await page.evaluate(() => document.cookie), '', 'scripts must not see the session cookie');
            assert.deepEqual(problems, [], 'errors or CSP violations in the docs page');
            assert.deepEqual(await cspViolations(), []);
        });

        const vmsBlock = page.locator('.opblock-get', { has: page.locator('.opblock-summary-path[data-path="/api/v1/vms"]') });
        // Execute, then the status Swagger UI shows for that request's answer.
        const execute = async () => {
            const [answer] = await Promise.all([
                page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/vms', { timeout: 30_000 }),
                vmsBlock.locator('.btn.execute').click(),
            ]);
            const status = vmsBlock.locator('.live-responses-table tr.response .response-col_status').first();
            const deadline = Date.now() + 30_000;
            let shown = '';
            while ((shown = ((await status.textContent({ timeout: 30_000 })) ?? '').trim()) !== String(answer.status())) {
                assert.ok(Date.now() < deadline, `Swagger UI shows ${shown}, the service answered ${answer.status()}`);
                await sleep(100);
            }
            return shown;
        };

        await step('try it out: 401 without Authorize, 200 with the token as a Bearer header', async () => {
            await vmsBlock.locator('.opblock-summary').click();
            await vmsBlock.locator('.btn.try-out__btn').click();
            assert.equal(await execute(), '401', 'the docs session cookie must not open the API');
            await page.locator('.btn.authorize').first().click();
            const dialog = page.locator('.modal-ux');
            await dialog.locator('input[type=text], input[type=password]').first().fill(token);
            await dialog.locator('.auth-btn-wrapper .btn.authorize').click();
            await dialog.locator('.btn-done').click();
            assert.equal(await execute(), '200');
            const sent = await Promise.all(apiRequests);
            assert.equal(sent.length, 2, JSON.stringify(sent));
            assert.equal(sent[0].authorization, undefined);
            assert.equal(sent[1].authorization, `Bearer ${token}`);
            for (const h of sent)
                assert.equal(h.cookie, undefined, `try-it-out sent a cookie: ${h.cookie}`);
            const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
            assert.doesNotMatch(stored, new RegExp(token), 'the token must not be stored');
            assert.deepEqual(foreign, [], 'requests to other origins');
            assert.deepEqual(problems, [], 'errors or CSP violations in the docs page');
            assert.deepEqual(await cspViolations(), []);
        });

        await step('without the token: 401', async () => {
            assert.equal(await get(port, '/docs'), 401);
            assert.equal(await get(port, '/docs?token=wrong'), 401);
            assert.equal(await get(port, '/docs/swagger-ui/swagger-ui-bundle.js'), 401);
            const fresh = await browser.newContext();
            try {
                const p = await fresh.newPage();
                assert.equal((await p.goto(`${base}/docs`)).status(), 401);
                assert.equal((await p.goto(`${base}/docs?token=wrong`)).status(), 401);
                assert.equal(await p.locator('.opblock').count(), 0);
                assert.deepEqual(await fresh.cookies(base), []);
            } finally {
                await fresh.close();
            }
        });
    } catch (e) {
        failed = true;
        throw e;
    } finally {
        if (browser)
            await browser.close().catch(() => {});
        const end = await service.stop({ killAfterMs: 30_000, log, stderrTail: failed ? 8000 : 0 });
        if (!failed)
            assert.deepEqual(end, { code: 0, signal: null }, 'the service must exit 0 on SIGTERM');
    }
});
