// What the browser tests share: what they need to run at all (a reason to
// skip, exit 77 when run directly as ctest does), a service spawned from the
// real binary in a private temporary home and stopped with SIGTERM, a free
// port, logging with the test's elapsed time, and steps that end the run on
// the first failure (t.test() resolves even when its test fails).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const binary = process.env.MVS_APP_BINARY || path.resolve(here, '../../build/dev/app/microvm-sandbox');
export const chromiumPath = process.env.MVS_CHROMIUM || '/usr/bin/chromium';

// playwright-core's chromium, or why the test cannot run: playwright-core,
// Chromium or the binary missing, or the first of extraChecks ([reason,
// ok]) that fails. Run directly (not under `node --test`), a reason ends
// the process with 77, ctest's SKIP_RETURN_CODE.
export async function browserOrSkip(extraChecks = []) {
    let chromium = null;
    let skipReason = null;
    try {
        ({ chromium } = await import('playwright-core'));
    } catch {
        skipReason = 'playwright-core is not installed: run `npm ci --prefix tests/browser`';
    }
    if (!skipReason && !fs.existsSync(chromiumPath))
        skipReason = `no Chromium at ${chromiumPath}: install Debian's chromium (apt-get install chromium) or set MVS_CHROMIUM`;
    for (const [reason, ok] of extraChecks) {
        if (!skipReason && !ok())
            skipReason = reason;
    }
    if (!skipReason && !fs.existsSync(binary))
        skipReason = `no microvm-sandbox binary at ${binary}: build it or set MVS_APP_BINARY`;
    if (skipReason && !process.env.NODE_TEST_CONTEXT) {
        console.log(`SKIPPED: ${skipReason}`);
        process.exit(77);
    }
    return { chromium, skipReason };
}

export function launchChromium(chromium) {
    return chromium.launch({
        executablePath: chromiumPath, headless: !process.env.MVS_BROWSER_HEADED, args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function makeLog(tag) {
    const t0 = Date.now();
    return (...a) => console.log(`[${tag} +${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
}

export function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

// `microvm-sandbox --serve` on a free port with a random token, its data,
// runtime and configuration in a new temporary directory, stderr in a file
// there. stop() sends SIGTERM (SIGKILL after killAfterMs), prints the end of
// stderr when asked, removes the directory and answers how it exited.
export async function startService(tag, extraEnv = {}) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `mvs-${tag}-`));
    const dirs = { data: path.join(tmp, 'data'), run: path.join(tmp, 'run'), config: path.join(tmp, 'config') };
    for (const d of Object.values(dirs))
        fs.mkdirSync(d, { mode: 0o700 });
    const token = crypto.randomBytes(24).toString('hex');
    const port = await freePort();
    const stderrFile = path.join(tmp, 'service.log');
    const stderr = fs.openSync(stderrFile, 'w');
    const child = spawn(binary, ['--serve', '--listen', `127.0.0.1:${port}`], {
        env: { ...process.env, MVS_TOKEN: token, MVS_DATA_DIR: dirs.data, MVS_RUNTIME_DIR: dirs.run, MVS_CONFIG_DIR: dirs.config, ...extraEnv },
        stdio: ['ignore', 'inherit', stderr],
    });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const stop = async ({ killAfterMs, log, stderrTail = 0 }) => {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        const end = await exited;
        clearTimeout(killer);
        fs.closeSync(stderr);
        log(`service exited: ${JSON.stringify(end)}`);
        if (stderrTail > 0)
            log(`service stderr (end):\n${fs.readFileSync(stderrFile, 'utf8').slice(-stderrTail)}`);
        fs.rmSync(tmp, { recursive: true, force: true });
        return end;
    };
    return { port, token, base: `http://127.0.0.1:${port}`, stop };
}

// node:http, not fetch: creating a VM may take minutes (first image build,
// a TCG boot) and undici gives up on headers after 300 s. A fresh
// connection each time: no keep-alive races with the server.
export function request(port, method, urlPath, { token, body, headers = {} } = {}) {
    return new Promise((resolve, reject) => {
        const h = { ...headers };
        if (token)
            h.Authorization = `Bearer ${token}`;
        let data;
        if (body !== undefined) {
            data = Buffer.from(JSON.stringify(body));
            h['Content-Type'] = 'application/json';
            h['Content-Length'] = data.length;
        }
        const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: h, agent: false }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                let json;
                try {
                    json = JSON.parse(text);
                } catch { /* not JSON */ }
                resolve({ status: res.statusCode, headers: res.headers, text, json });
            });
        });
        req.on('error', (e) => reject(new Error(`${method} ${urlPath}: ${e.message}${req.reusedSocket ? ' (on a reused keep-alive connection)' : ''}`)));
        req.end(data);
    });
}

// Polls fn (answering { done, value }) every intervalMs until done; fails
// with the last value after timeoutMs.
export async function until(what, timeoutMs, intervalMs, fn) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
        last = await fn();
        if (last.done)
            return last.value;
        if (Date.now() > deadline)
            assert.fail(`${what}: not within ${timeoutMs / 1000} s (last: ${JSON.stringify(last.value)})`);
        await sleep(intervalMs);
    }
}

// A subtest per step; a failed step throws, ending the run.
export function stepper(t) {
    return async (name, fn) => {
        let ok = false;
        await t.test(name, async (st) => {
            await fn(st);
            ok = true;
        });
        if (!ok)
            throw new Error(`step failed: ${name}`);
    };
}
