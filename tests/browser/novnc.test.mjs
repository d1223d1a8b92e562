// The noVNC viewer page in a real browser: Debian's Chromium, driven by
// playwright-core, opens /vnc/{name} on a service spawned from the real
// binary, watches a desktop guest, proves that a viewer which has not taken
// control cannot type into the guest, takes control, types a shell command
// into the guest's xterm and finds its effect through exec, releases control.
// The agent's clicks and keys sent through the API show over the view (a
// marker where it clicked, a caption of the keys).
// Without the token neither the page nor the WebSocket open.
//
// Run: npm ci --prefix tests/browser && node --test tests/browser/novnc.test.mjs
// (ctest runs `node tests/browser/novnc.test.mjs`; exit code 77 = skipped).
// Environment: MVS_APP_BINARY (default build/dev/app/microvm-sandbox),
// MVS_CHROMIUM (default /usr/bin/chromium), MVS_BROWSER_HEADED=1 to watch,
// MVS_LOG (passed to the service; its stderr is printed when a step fails).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { browserOrSkip, launchChromium, makeLog, request, sleep, startService, stepper, until } from './harness.mjs';

const novncDir = process.env.MVS_NOVNC_DIR || '/usr/share/novnc';
const VM = 'web';

const { chromium, skipReason } = await browserOrSkip([[
    `noVNC is not installed in ${novncDir}: install Debian's novnc package (or set MVS_NOVNC_DIR)`,
    () => fs.existsSync(path.join(novncDir, 'core/rfb.js')),
]]);
const log = makeLog('novnc');

// A WebSocket handshake by hand: the status line the server answers with.
function upgrade(port, urlPath, headers = {}) {
    return new Promise((resolve, reject) => {
        // agent: false: a new connection, as WebSocket clients do (the
        // server closes the connection after refusing an upgrade).
        const req = http.request({
            host: '127.0.0.1', port, path: urlPath, agent: false,
            headers: {
                Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
                'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'), ...headers,
            },
        });
        req.on('upgrade', (res, socket) => {
            socket.destroy();
            resolve(res.statusCode);
        });
        req.on('response', (res) => {
            res.resume();
            resolve(res.statusCode);
        });
        req.on('error', reject);
        req.setTimeout(30_000, () => req.destroy(new Error('no answer to the upgrade in 30 s')));
        req.end();
    });
}

test('noVNC viewer in Chromium: watch, view-only, take control, type, auth', { skip: skipReason ?? false, timeout: 880_000 }, async (t) => {
    const service = await startService('browser', { MVS_LOG: process.env.MVS_LOG || 'info' });
    const { port, token, base } = service;
    const api = (method, p, body) => request(port, method, p, { token, body });
    const exec = async (cmd) => {
        const r = await api('POST', `/api/v1/vms/${VM}/exec`, { cmd, timeout_s: 60 });
        assert.equal(r.status, 200, `exec ${cmd}: ${r.text}`);
        return r.json;
    };

    let browser;
    let created = false;
    let failed = false;
    const step = stepper(t);
    try {
        await until('the service answers /api/v1/health', 30_000, 100, async () => {
            const r = await request(port, 'GET', '/api/v1/health').catch((e) => ({ status: 0, text: e.message }));
            return { done: r.status === 200, value: r.text };
        });
        log(`service up on ${base}`);

        await step('creates and boots the desktop VM', async () => {
            const started = Date.now();
            created = true; // even a failed create may leave a record to delete
            const r = await api('POST', '/api/v1/vms', { name: VM, template: 'desktop' });
            assert.equal(r.status, 201, r.text);
            log(`VM booted in ${((Date.now() - started) / 1000).toFixed(1)} s (POST /api/v1/vms, including any image build)`);
        });

        browser = await launchChromium(chromium);
        log(`Chromium ${browser.version()}`);
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        const pageErrors = [];
        page.on('pageerror', (e) => {
            pageErrors.push(e.message);
            log('page error:', e.message);
        });
        page.on('response', (r) => {
            if (r.status() >= 400)
                log(`page: ${r.status()} for ${r.url()}`);
        });
        page.on('console', (m) => {
            if (m.type() === 'error' || m.type() === 'warning')
                log(`page console.${m.type()}: ${m.text()}`);
        });
        const canvasStats = () => page.evaluate(() => {
            const c = document.querySelector('#screen canvas');
            if (!c || !c.width || !c.height)
                return { width: 0, height: 0, distinct: 0, nonBlack: 0 };
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const colours = new Set();
            let nonBlack = 0;
            for (let i = 0; i < d.length; i += 4) {
                const rgb = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
                if (rgb !== 0)
                    nonBlack++;
                if (colours.size < 4096)
                    colours.add(rgb);
            }
            return { width: c.width, height: c.height, distinct: colours.size, nonBlack };
        });

        await step('the page connects with ?token=, then forgets the token', async () => {
            const started = Date.now();
            const response = await page.goto(`${base}/vnc/${VM}?token=${token}`);
            assert.equal(response.status(), 200);
            const setCookie = (await response.allHeaders())['set-cookie'] ?? '';
            assert.match(setCookie, new RegExp(`mvs_view_${VM}=[0-9a-f]{64};`));
            assert.doesNotMatch(setCookie, new RegExp(token), 'the cookie is a viewer session, never the token');
            assert.match(setCookie, /HttpOnly/i);
            assert.match(setCookie, /SameSite=Strict/i);
            await page.waitForFunction(() => document.body.dataset.state !== 'connecting', null, { timeout: 240_000, polling: 200 });
            const state = await page.evaluate(() => ({ state: document.body.dataset.state, text: document.getElementById('status').textContent }));
            assert.equal(state.state, 'connected', `the viewer did not connect: ${state.text}`);
            log(`page connected ${((Date.now() - started) / 1000).toFixed(1)} s after it was opened`);

            assert.equal(page.url(), `${base}/vnc/${VM}`, 'the token must be gone from the address');
            const cookies = await context.cookies(base);
            const session = cookies.find((c) => c.name === `mvs_view_${VM}`);
            assert.ok(session, `no mvs_view_${VM} cookie in ${JSON.stringify(cookies.map((c) => c.name))}`);
            assert.notEqual(session.value, token);
            assert.ok(session.expires > 0 && session.expires * 1000 <= Date.now() + 12 * 3600 * 1000 + 60_000, 'a viewer session is short-lived');
            assert.equal(session.httpOnly, true);
            assert.equal(session.sameSite, 'Strict');
            assert.doesNotMatch(await page.evaluate(() => document.cookie), /mvs_view_/, 'scripts must not see the session cookie');
            assert.deepEqual(pageErrors, [], 'uncaught errors in the viewer page');
        });

        await step('the canvas shows the desktop', async () => {
            const display = (await api('GET', `/api/v1/vms/${VM}/display`)).json;
            assert.equal(display?.connected, true, JSON.stringify(display));
            const started = Date.now();
            let previous = '';
            const stats = await until('non-blank pixels on the noVNC canvas', 120_000, 500, async () => {
                const s = await canvasStats();
                if (process.env.MVS_BROWSER_DEBUG) {
                    // What the service's own VNC client sees, for comparison.
                    const shot = await page.evaluate(async (u) => {
                        const r = await fetch(u);
                        if (!r.ok)
                            return r.status;
                        const bmp = await createImageBitmap(await r.blob());
                        const c = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d');
                        c.drawImage(bmp, 0, 0);
                        const d = c.getImageData(0, 0, bmp.width, bmp.height).data;
                        let n = 0;
                        for (let i = 0; i < d.length; i += 4)
                            n += (d[i] | d[i + 1] | d[i + 2]) ? 1 : 0;
                        return n;
                    }, `/api/v1/vms/${VM}/screenshot`);
                    const now = JSON.stringify({ canvas: s, screenshotNonBlack: shot });
                    if (now !== previous)
                        log(`canvas: ${(previous = now)}`);
                }
                return { done: s.distinct >= 2 && s.nonBlack > (s.width * s.height) / 100, value: s };
            });
            log(`canvas ${stats.width}x${stats.height}: ${stats.distinct} colours, ${(100 * stats.nonBlack / (stats.width * stats.height)).toFixed(1)} % non-black (${Date.now() - started} ms)`);
            assert.equal(stats.width, display.width);
            assert.equal(stats.height, display.height);
        });

        await step("the agent's click and keys show over the view (the events WebSocket)", async () => {
            await page.waitForFunction(() => document.body.dataset.events === 'connected', null, { timeout: 30_000, polling: 100 });
            const display = (await api('GET', `/api/v1/vms/${VM}/display`)).json;
            // Watched for before the click is sent: the mark fades after 1.5 s.
            const marked = page.waitForSelector('#overlay .mvs-marker[data-action="click"][data-x="640"][data-y="400"]', { state: 'attached', timeout: 90_000 });
            // wait_s: the desktop may still be coming up (the xterm without the focus).
            const r = await api('POST', `/api/v1/vms/${VM}/input?wait_s=60`, { action: 'click', x: 640, y: 400 });
            assert.equal(r.status, 200, r.text);
            const mark = await marked;
            const box = await mark.boundingBox();
            const canvas = await page.locator('#screen canvas').boundingBox();
            const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
            const want = { x: canvas.x + 640 * canvas.width / display.width, y: canvas.y + 400 * canvas.height / display.height };
            assert.ok(Math.abs(centre.x - want.x) < 3 && Math.abs(centre.y - want.y) < 3,
                      `the mark is at ${JSON.stringify(centre)}, the click at ${JSON.stringify(want)} on the page`);
            const captioned = page.waitForFunction(() => document.getElementById('caption').textContent === 'Key ctrl+c'
                                                         && document.getElementById('caption').classList.contains('shown'), null, { timeout: 15_000, polling: 50 });
            const k = await api('POST', `/api/v1/vms/${VM}/input`, { action: 'key', keys: 'ctrl+c' });
            assert.equal(k.status, 200, k.text);
            await captioned;
            // Marks go by themselves.
            await page.waitForSelector('#overlay .mvs-marker', { state: 'detached', timeout: 10_000 });
            assert.deepEqual(pageErrors, [], 'uncaught errors in the viewer page');
        });

        await step('a viewer that has not taken control cannot type', async () => {
            const d = (await api('GET', `/api/v1/vms/${VM}/display`)).json;
            assert.equal(d.controller, 'agent');
            assert.equal(d.human_in_control, false);
            assert.equal(await page.evaluate(() => window.mvsRfb.viewOnly), true);
            await page.evaluate(() => window.mvsRfb.focus());
            // noVNC itself drops input while view-only...
            await page.keyboard.type('touch /tmp/viewonly-page', { delay: 20 });
            await page.keyboard.press('Enter');
            // ...and a viewer that lifts that flag (a modified page, any RFB
            // client) is stopped by the service's relay.
            await page.evaluate(() => { window.mvsRfb.viewOnly = false; window.mvsRfb.focus(); });
            await page.keyboard.type('touch /tmp/viewonly-relay', { delay: 20 });
            await page.keyboard.press('Enter');
            await page.mouse.click(640, 450);
            await sleep(8000); // a TCG guest types slowly; give any leak time to land
            await page.evaluate(() => { window.mvsRfb.viewOnly = true; });
            const r = await exec('ls /tmp/viewonly-page /tmp/viewonly-relay 2>&1; true');
            assert.doesNotMatch(r.stdout, /^\/tmp\/viewonly-(page|relay)$/m, `view-only keys reached the guest:\n${r.stdout}`);
            assert.equal((await exec('test -e /tmp/viewonly-page || test -e /tmp/viewonly-relay')).exit_code, 1);
        });

        await step('take control, type into the xterm, release', async () => {
            await page.waitForSelector('#control:not([disabled])', { timeout: 30_000 });
            assert.equal((await page.textContent('#control')).trim(), 'Take control');
            await page.click('#control');
            await page.waitForSelector('body[data-controller="human"]', { timeout: 30_000 });
            const d = (await api('GET', `/api/v1/vms/${VM}/display`)).json;
            assert.equal(d.controller, 'human');
            assert.equal(d.human_in_control, true);
            assert.equal(await page.evaluate(() => window.mvsRfb.viewOnly), false);
            // The agent is refused while the human drives.
            const refused = await api('POST', `/api/v1/vms/${VM}/input`, { action: 'key', keys: 'Return' });
            assert.equal(refused.status, 409, refused.text);
            assert.equal(refused.json?.error?.code, 'control_held');

            await page.evaluate(() => window.mvsRfb.focus());
            assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'CANVAS');
            const started = Date.now();
            await page.keyboard.type('echo from-browser-$((6*7)) > /tmp/browser.txt', { delay: 30 });
            await page.keyboard.press('Enter');
            const content = await until('/tmp/browser.txt holds from-browser-42', 90_000, 500, async () => {
                const r = await exec('cat /tmp/browser.txt 2>/dev/null; true');
                return { done: r.stdout.includes('from-browser-42'), value: r.stdout };
            });
            assert.equal(content.trim(), 'from-browser-42');
            log(`typed command ran in the guest ${((Date.now() - started) / 1000).toFixed(1)} s after typing began`);
            // What was typed while view-only never arrived, even late.
            assert.equal((await exec('test -e /tmp/viewonly-page || test -e /tmp/viewonly-relay')).exit_code, 1);

            assert.equal((await page.textContent('#control')).trim(), 'Release control');
            await page.click('#control');
            await page.waitForSelector('body[data-controller="agent"]', { timeout: 30_000 });
            const after = (await api('GET', `/api/v1/vms/${VM}/display`)).json;
            assert.equal(after.controller, 'agent');
            assert.equal(after.human_in_control, false);
            assert.equal(await page.evaluate(() => window.mvsRfb.viewOnly), true);
            assert.equal(await page.evaluate(() => document.body.dataset.state), 'connected');
        });

        // Another origin of the same site (another port of 127.0.0.1: a local
        // dev server, a guest's forwarded web app) in the browser that holds
        // the session cookie. SameSite=Strict does not stop it (ports do not
        // make sites): the service takes the cookie only from its own origin,
        // and only on the viewer's routes.
        await t.test('another origin of the same site cannot use the session cookie', async () => {
            const other = http.createServer((req, res) => {
                res.setHeader('Content-Type', 'text/html');
                res.end('<!doctype html><title>another local app</title>');
            });
            await new Promise((resolve) => other.listen(0, '127.0.0.1', resolve));
            const otherPage = await context.newPage();
            try {
                await otherPage.goto(`http://127.0.0.1:${other.address().port}/`);
                const got = await otherPage.evaluate(async ({ base, vm }) => {
                    const ws = await new Promise((resolve) => {
                        const events = [];
                        const s = new WebSocket(base.replace('http:', 'ws:') + `/api/v1/vms/${vm}/vnc`);
                        s.binaryType = 'arraybuffer';
                        const timer = setTimeout(() => { s.close(); resolve(events); }, 15_000);
                        s.onopen = () => events.push('open');
                        s.onerror = () => events.push('error');
                        s.onmessage = (m) => { events.push('message:' + new TextDecoder().decode(new Uint8Array(m.data).slice(0, 12)).trim()); s.close(); };
                        s.onclose = (e) => { clearTimeout(timer); events.push('close:' + e.code); resolve(events); };
                    });
                    // "Simple" requests: no preflight, the cookie goes along.
                    const post = (p, body) => fetch(base + p, { method: 'POST', mode: 'no-cors', credentials: 'include',
                                                                headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body) })
                        .then(() => 'sent', (e) => 'failed: ' + e.message);
                    const exec = await post(`/api/v1/vms/${vm}/exec`, { cmd: 'touch /tmp/other-origin' });
                    const control = await post(`/api/v1/vms/${vm}/display/control`, { controller: 'human' });
                    return { ws, exec, control };
                }, { base, vm: VM });
                log(`from another origin of the same site: ${JSON.stringify(got)}`);
                await sleep(1000);
                const ran = (await exec('test -e /tmp/other-origin')).exit_code === 0;
                const d = (await api('GET', `/api/v1/vms/${VM}/display`)).json;
                if (d.controller !== 'agent')
                    await api('POST', `/api/v1/vms/${VM}/display/control`, { controller: 'agent' }); // as it was
                const problems = [];
                if (got.ws.includes('open'))
                    problems.push(`the VNC WebSocket opened for it: ${JSON.stringify(got.ws)}`);
                if (ran)
                    problems.push('it ran a command in the guest (POST .../exec)');
                if (d.controller !== 'agent')
                    problems.push('it took control of the display (POST .../display/control)');
                assert.deepEqual(problems, [], `a page of another origin used the session cookie: ${problems.join('; ')}`);
            } finally {
                await otherPage.close();
                other.close();
            }
        });

        await step('without the token: no page, no WebSocket', async () => {
            assert.equal((await request(port, 'GET', `/vnc/${VM}`)).status, 401);
            assert.equal((await request(port, 'GET', `/vnc/${VM}?token=wrong`)).status, 401);
            assert.equal((await request(port, 'GET', '/novnc/core/rfb.js')).status, 401);
            const wsPath = `/api/v1/vms/${VM}/vnc`;
            assert.equal(await upgrade(port, wsPath), 401);
            assert.equal(await upgrade(port, `${wsPath}?token=wrong`), 401);
            assert.equal(await upgrade(port, wsPath, { Authorization: 'Bearer wrong' }), 401);
            assert.equal(await upgrade(port, wsPath, { Cookie: `mvs_view_${VM}=wrong` }), 401);
            assert.equal(await upgrade(port, wsPath, { Cookie: `mvs_view_${VM}=${token}` }), 401, 'the token is no viewer session');
            assert.equal(await upgrade(port, wsPath, { Cookie: `mvs_token=${token}` }), 401, 'the token is no cookie');
            assert.equal(await upgrade(port, wsPath, { Authorization: `Bearer ${token}` }), 101, 'the same upgrade with the token');

            const fresh = await browser.newContext();
            try {
                const p = await fresh.newPage();
                await p.goto(`${base}/api/v1/health`); // same origin, no cookie
                assert.deepEqual(await fresh.cookies(base), []);
                const open = (url) => p.evaluate((u) => new Promise((resolve) => {
                    const events = [];
                    const ws = new WebSocket(u);
                    ws.binaryType = 'arraybuffer';
                    const timer = setTimeout(() => { ws.close(); resolve({ events, timeout: true }); }, 20_000);
                    ws.onopen = () => events.push('open');
                    ws.onerror = () => events.push('error');
                    ws.onmessage = (m) => {
                        events.push('message:' + new TextDecoder().decode(new Uint8Array(m.data).slice(0, 12)).trim());
                        clearTimeout(timer);
                        ws.close();
                    };
                    ws.onclose = (e) => { clearTimeout(timer); events.push('close:' + e.code); resolve({ events }); };
                }), url);
                const wsUrl = `ws://127.0.0.1:${port}${wsPath}`;
                const refused = await open(wsUrl);
                assert.ok(!refused.events.includes('open'), `opened without a token: ${JSON.stringify(refused)}`);
                assert.ok(refused.events.includes('error'), JSON.stringify(refused));
                assert.ok(refused.events.includes('close:1006'), JSON.stringify(refused));
                const wrong = await open(`${wsUrl}?token=wrong`);
                assert.ok(!wrong.events.includes('open'), `opened with a wrong token: ${JSON.stringify(wrong)}`);
                // The same code with the token does open and speaks RFB.
                const allowed = await open(`${wsUrl}?token=${token}`);
                assert.ok(allowed.events.includes('open'), JSON.stringify(allowed));
                assert.ok(allowed.events.some((e) => /^message:RFB 003\.00\d$/.test(e)), JSON.stringify(allowed));
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
        if (failed || process.env.MVS_BROWSER_DEBUG) {
            if (created) {
                const d = await api('GET', `/api/v1/vms/${VM}/display`).catch((e) => ({ text: e.message }));
                log(`display: ${d.text}`);
                const c = await api('GET', `/api/v1/vms/${VM}/console?bytes=4096`).catch((e) => ({ text: e.message }));
                log(`guest console (end):\n${c.text}`);
                const ps = await api('POST', `/api/v1/vms/${VM}/exec`, { cmd: 'ps -ef; cat /proc/net/tcp | head -20', timeout_s: 30 }).catch((e) => ({ text: e.message }));
                log(`guest ps/tcp: ${ps.json ? ps.json.stdout : ps.text}`);
            }
        }
        if (created) {
            const r = await api('DELETE', `/api/v1/vms/${VM}`).catch((e) => ({ status: 0, text: e.message }));
            if (![200, 204, 404].includes(r.status))
                log(`DELETE /api/v1/vms/${VM}: ${r.status} ${r.text}`);
        }
        const end = await service.stop({ killAfterMs: 60_000, log, stderrTail: failed || process.env.MVS_BROWSER_DEBUG ? 12_000 : 0 });
        if (!failed)
            assert.deepEqual(end, { code: 0, signal: null }, 'the service must exit 0 on SIGTERM');
    }
});
