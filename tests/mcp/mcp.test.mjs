// The MCP server as an MCP client sees it: the official TypeScript SDK
// spawns `microvm-sandbox mcp --standalone` over stdio and drives real
// guests through the tools: a minimal one for commands, files, snapshots
// and exposed ports, an agent one for code, a desktop one for screenshots
// and input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';

const binary = process.env.MVS_APP_BINARY;
const callTimeout = { timeout: 400_000 }; // the first create may build the image

function text(result) {
    assert.ok(Array.isArray(result.content) && result.content.length > 0, JSON.stringify(result));
    assert.equal(result.content[0].type, 'text');
    return result.content[0].text;
}

function ok(result) {
    assert.notEqual(result.isError, true, text(result));
    return text(result);
}

// GET http://host:port/ : the body of a 200, or '' (rejects when the connection is refused).
async function get(host, port) {
    const r = await fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(60_000) });
    return r.status === 200 ? await r.text() : '';
}

test('MCP server over stdio with the official SDK', { timeout: 2_700_000 }, async (t) => {
    assert.ok(binary, 'MVS_APP_BINARY must name the microvm-sandbox executable');
    // The SDK passes the server a safe subset of the environment; our MVS_* settings go too.
    const env = { ...getDefaultEnvironment(), ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MVS_'))) };
    const transport = new StdioClientTransport({ command: binary, args: ['mcp', '--standalone'], stderr: 'inherit', env });
    const client = new Client({ name: 'mvs-test', version: '1.0.0' });
    await client.connect(transport);
    try {
        assert.equal(client.getServerVersion()?.name, 'microvm-sandbox');
        assert.ok(client.getServerCapabilities()?.tools);
        await client.ping();

        await t.test('lists the tools with input schemas', async () => {
            const { tools } = await client.listTools();
            const names = tools.map((x) => x.name).sort();
            assert.deepEqual(names, ['computer_input', 'create_sandbox', 'destroy_sandbox', 'display_info', 'execute_code', 'expose_port',
                                     'kill_process', 'list_ports', 'list_processes', 'list_sandboxes', 'read_file', 'read_process_output',
                                     'run_command', 'screenshot', 'snapshot_create', 'snapshot_delete', 'snapshot_fork', 'snapshot_list',
                                     'snapshot_restore', 'start_process', 'unexpose_port', 'write_file', 'write_process_stdin']);
            for (const tool of tools)
                assert.equal(tool.inputSchema.type, 'object', tool.name);
        });

        await t.test('an unknown tool is an error', async () => {
            let failed = false;
            try {
                const r = await client.callTool({ name: 'no_such_tool', arguments: {} });
                failed = r.isError === true;
            } catch (e) {
                failed = /unknown tool/i.test(String(e.message));
            }
            assert.ok(failed);
        });

        await t.test('a missing argument is a tool error', async () => {
            const r = await client.callTool({ name: 'run_command', arguments: { name: 'x' } });
            assert.equal(r.isError, true);
        });

        await t.test("create_sandbox's network is checked", async () => {
            const r = await client.callTool({ name: 'create_sandbox', arguments: { name: 'x', network: 'none' } });
            assert.equal(r.isError, true);
            assert.match(text(r), /'network' must be an object/);
            const bad = await client.callTool({ name: 'create_sandbox', arguments: { name: 'x', network: { mode: 'bogus' } } });
            assert.equal(bad.isError, true);
            assert.match(text(bad), /network\.mode/);
        });

        const name = 'mcp-test';
        await t.test('create_sandbox boots a guest', async () => {
            const out = ok(await client.callTool({ name: 'create_sandbox', arguments: { name, template: 'minimal' } }, undefined, callTimeout));
            assert.match(out, /mcp-test/);
        });

        await t.test('run_command runs in Linux', async () => {
            const out = ok(await client.callTool({ name: 'run_command', arguments: { name, command: 'uname -s' } }, undefined, callTimeout));
            assert.match(out, /exit code 0/);
            assert.match(out, /Linux/);
            const argv = ok(await client.callTool({ name: 'run_command', arguments: { name, command: ['sh', '-c', 'cat; exit 3'], stdin: 'fed' } }, undefined, callTimeout));
            assert.match(argv, /exit code 3/);
            assert.match(argv, /fed/);
        });

        await t.test('run_command answers when the main process ends; background processes', async () => {
            const started = Date.now();
            const bg = ok(await client.callTool({ name: 'run_command', arguments: { name, command: 'sleep 300 & echo started', timeout_s: 60 } }, undefined, callTimeout));
            assert.match(bg, /exit code 0/);
            assert.match(bg, /started/);
            assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);

            const out = ok(await client.callTool({ name: 'start_process', arguments: { name, command: 'read line; echo "got $line"' } }, undefined, callTimeout));
            const pid = Number(/started process (\d+)/.exec(out)[1]);
            assert.ok(pid > 0, out);
            const listed = JSON.parse(ok(await client.callTool({ name: 'list_processes', arguments: { name } }, undefined, callTimeout)));
            assert.ok(listed.some((p) => p.pid === pid && p.running), JSON.stringify(listed));
            ok(await client.callTool({ name: 'write_process_stdin', arguments: { name, pid, data: 'hi\n', eof: true } }, undefined, callTimeout));
            let read;
            for (let i = 0; i < 100; ++i) {
                read = JSON.parse(ok(await client.callTool({ name: 'read_process_output', arguments: { name, pid } }, undefined, callTimeout)));
                if (!read.running)
                    break;
                await new Promise((r) => setTimeout(r, 200));
            }
            assert.equal(read.stdout, 'got hi\n');
            assert.equal(read.stdout_offset, 7);
            assert.equal(read.exit_code, 0);
            const sleeper = ok(await client.callTool({ name: 'start_process', arguments: { name, command: 'exec sleep 301' } }, undefined, callTimeout));
            const sleeperPid = Number(/started process (\d+)/.exec(sleeper)[1]);
            assert.match(ok(await client.callTool({ name: 'kill_process', arguments: { name, pid: sleeperPid, signal: 'KILL' } }, undefined, callTimeout)),
                         /signalled process/);
            ok(await client.callTool({ name: 'kill_process', arguments: { name, pid: sleeperPid, remove: true } }, undefined, callTimeout));
            const gone = await client.callTool({ name: 'read_process_output', arguments: { name, pid: sleeperPid } }, undefined, callTimeout);
            assert.equal(gone.isError, true);
        });

        await t.test('write_file and read_file round trip', async () => {
            const content = 'hello from MCP\nline two ✓\n';
            ok(await client.callTool({ name: 'write_file', arguments: { name, path: '/tmp/mcp/hello.txt', content } }, undefined, callTimeout));
            assert.equal(ok(await client.callTool({ name: 'read_file', arguments: { name, path: '/tmp/mcp/hello.txt' } }, undefined, callTimeout)), content);
            const bytes = Buffer.from([0, 1, 2, 255, 254, 10]);
            ok(await client.callTool({ name: 'write_file', arguments: { name, path: '/tmp/mcp/bin', content_base64: bytes.toString('base64') } }, undefined, callTimeout));
            const back = ok(await client.callTool({ name: 'read_file', arguments: { name, path: '/tmp/mcp/bin' } }, undefined, callTimeout));
            assert.ok(back.includes(bytes.toString('base64')), back);
            const missing = await client.callTool({ name: 'read_file', arguments: { name, path: '/tmp/mcp/nope' } }, undefined, callTimeout);
            assert.equal(missing.isError, true);
        });

        await t.test('snapshot_create, snapshot_list, snapshot_restore, snapshot_delete', async () => {
            ok(await client.callTool({ name: 'write_file', arguments: { name, path: '/root/snap.txt', content: 'before\n' } }, undefined, callTimeout));
            const taken = ok(await client.callTool({ name: 'snapshot_create', arguments: { name, snapshot: 'one' } }, undefined, callTimeout));
            assert.match(taken, /took snapshot one of sandbox mcp-test/);
            ok(await client.callTool({ name: 'write_file', arguments: { name, path: '/root/snap.txt', content: 'after\n' } }, undefined, callTimeout));

            const list = JSON.parse(ok(await client.callTool({ name: 'snapshot_list', arguments: { name } }, undefined, callTimeout)));
            assert.equal(list.length, 1);
            assert.equal(list[0].name, 'one');
            assert.equal(list[0].parent, null);
            assert.ok(list[0].size_bytes > 0);

            const restored = ok(await client.callTool({ name: 'snapshot_restore', arguments: { name, snapshot: 'one' } }, undefined, callTimeout));
            assert.match(restored, /restored sandbox mcp-test to snapshot one \(running\)/);
            assert.equal(ok(await client.callTool({ name: 'read_file', arguments: { name, path: '/root/snap.txt' } }, undefined, callTimeout)), 'before\n');

            const unknown = await client.callTool({ name: 'snapshot_restore', arguments: { name, snapshot: 'nope' } }, undefined, callTimeout);
            assert.equal(unknown.isError, true);
            assert.match(text(unknown), /nope/);
            const missing = await client.callTool({ name: 'snapshot_restore', arguments: { name } }, undefined, callTimeout);
            assert.equal(missing.isError, true);
            assert.match(text(missing), /'snapshot' is required/);
            const badCount = await client.callTool({ name: 'snapshot_fork', arguments: { name, snapshot: 'one', count: 17 } }, undefined, callTimeout);
            assert.equal(badCount.isError, true);
            assert.match(text(badCount), /count/);

            assert.match(ok(await client.callTool({ name: 'snapshot_delete', arguments: { name, snapshot: 'one' } }, undefined, callTimeout)),
                         /deleted snapshot one of sandbox mcp-test/);
            assert.match(ok(await client.callTool({ name: 'snapshot_list', arguments: { name } }, undefined, callTimeout)), /has no snapshots/);
            const again = await client.callTool({ name: 'snapshot_delete', arguments: { name, snapshot: 'one' } }, undefined, callTimeout);
            assert.equal(again.isError, true);
        });

        await t.test('expose_port, list_ports, unexpose_port', async () => {
            // An HTTP server in the guest (busybox httpd, which daemonizes).
            ok(await client.callTool({ name: 'run_command',
                                       arguments: { name, command: 'mkdir -p /tmp/www && echo through the port > /tmp/www/index.html && httpd -p 7070 -h /tmp/www' } },
                                     undefined, callTimeout));
            const exposed = ok(await client.callTool({ name: 'expose_port', arguments: { name, guest_port: 7070 } }, undefined, callTimeout));
            const m = /reachable from the host at 127\.0\.0\.1:(\d+)$/.exec(exposed);
            assert.ok(m, exposed);
            const port = Number(m[1]);
            let page = '';
            for (let i = 0; i < 50 && !page; ++i) { // until httpd listens
                page = await get('127.0.0.1', port).catch(() => '');
                if (!page)
                    await new Promise((r) => setTimeout(r, 200));
            }
            assert.equal(page, 'through the port\n');
            const list = JSON.parse(ok(await client.callTool({ name: 'list_ports', arguments: { name } }, undefined, callTimeout)));
            assert.deepEqual(list.map((p) => [p.guest_port, p.endpoint, p.state]), [[7070, `127.0.0.1:${port}`, 'active']]);
            const twice = await client.callTool({ name: 'expose_port', arguments: { name, guest_port: 7070 } }, undefined, callTimeout);
            assert.equal(twice.isError, true);
            assert.match(text(twice), /already exposed/);
            const badPort = await client.callTool({ name: 'expose_port', arguments: { name, guest_port: 0 } }, undefined, callTimeout);
            assert.equal(badPort.isError, true);
            assert.match(text(badPort), /guest_port/);
            const nobody = await client.callTool({ name: 'expose_port', arguments: { name: 'no-such-sandbox', guest_port: 80 } }, undefined, callTimeout);
            assert.equal(nobody.isError, true);
            assert.match(text(nobody), /no VM named/);

            assert.match(ok(await client.callTool({ name: 'unexpose_port', arguments: { name, guest_port: 7070 } }, undefined, callTimeout)),
                         /no longer exposed/);
            await assert.rejects(get('127.0.0.1', port), (e) => e.cause?.code === 'ECONNREFUSED');
            assert.match(ok(await client.callTool({ name: 'list_ports', arguments: { name } }, undefined, callTimeout)), /has no exposed ports/);
            const again = await client.callTool({ name: 'unexpose_port', arguments: { name, guest_port: 7070 } }, undefined, callTimeout);
            assert.equal(again.isError, true);
            assert.match(text(again), /not exposed/);
        });

        await t.test('execute_code needs a template with Python', async () => {
            const r = await client.callTool({ name: 'execute_code', arguments: { name, language: 'bash', code: 'echo hi' } }, undefined, callTimeout);
            assert.equal(r.isError, true);
            assert.match(text(r), /agent template/);
        });

        await t.test('execute_code on an agent sandbox: a session, an error, a figure', async () => {
            const box = 'mcp-code';
            ok(await client.callTool({ name: 'create_sandbox', arguments: { name: box, template: process.env.MVS_CODE_TEMPLATE ?? 'agent', network: { mode: 'none' } } }, undefined, { timeout: 1_200_000 }));
            try {
                const set = ok(await client.callTool({ name: 'execute_code', arguments: { name: box, language: 'python', code: 'x = 41', session: 'mcp' } }, undefined, callTimeout));
                assert.match(set, /session mcp/);
                const get = ok(await client.callTool({ name: 'execute_code', arguments: { name: box, code: 'print("hi")\nx + 1', session: 'mcp' } }, undefined, callTimeout));
                assert.match(get, /result: 42/);
                assert.match(get, /--- stdout ---\nhi\n/);
                const bad = ok(await client.callTool({ name: 'execute_code', arguments: { name: box, code: '1 / 0' } }, undefined, callTimeout));
                assert.match(bad, /error: ZeroDivisionError/);
                const plot = await client.callTool({ name: 'execute_code', arguments: { name: box, session: 'mcp',
                    code: 'import matplotlib.pyplot as plt\nplt.figure(figsize=(3, 2), dpi=100)\nplt.plot([1, 2])\nplt.show()' } }, undefined, callTimeout);
                assert.notEqual(plot.isError, true, JSON.stringify(plot).slice(0, 400));
                const image = plot.content.find((c) => c.type === 'image');
                assert.ok(image, 'an image content item');
                assert.equal(image.mimeType, 'image/png');
                const png = Buffer.from(image.data, 'base64');
                assert.equal(png.readUInt32BE(16), 300);
                assert.equal(png.readUInt32BE(20), 200);
                const js = ok(await client.callTool({ name: 'execute_code', arguments: { name: box, language: 'javascript', code: '[1, 2].map(x => x * 21)' } }, undefined, callTimeout));
                assert.match(js, /result: \[ 21, 42 \]/);
            } finally {
                await client.callTool({ name: 'destroy_sandbox', arguments: { name: box } }, undefined, callTimeout);
            }
        });

        await t.test('a sandbox without a desktop has no screenshot', async () => {
            const r = await client.callTool({ name: 'screenshot', arguments: { name } }, undefined, callTimeout);
            assert.equal(r.isError, true);
            assert.match(text(r), /no desktop/);
        });

        await t.test('screenshot and computer_input on a desktop sandbox', async () => {
            const desk = 'mcp-desk';
            ok(await client.callTool({ name: 'create_sandbox', arguments: { name: desk, template: 'desktop' } }, undefined, callTimeout));
            try {
                // The desktop is up once the terminal has the focus.
                const deadline = Date.now() + 180_000;
                for (;;) {
                    const out = ok(await client.callTool({ name: 'run_command',
                        arguments: { name: desk, command: 'DISPLAY=:0 xdotool getwindowfocus getwindowname 2>&1' } }, undefined, callTimeout));
                    if (/--- stdout ---\nxterm\n/.test(out))
                        break;
                    assert.ok(Date.now() < deadline, 'the desktop never came up: ' + out);
                    await new Promise((r) => setTimeout(r, 1000));
                }
                const shot = await client.callTool({ name: 'screenshot', arguments: { name: desk, max_width: 640 } }, undefined, callTimeout);
                assert.notEqual(shot.isError, true, JSON.stringify(shot).slice(0, 400));
                const image = shot.content.find((c) => c.type === 'image');
                assert.ok(image, 'an image content item');
                assert.equal(image.mimeType, 'image/png');
                const png = Buffer.from(image.data, 'base64');
                assert.equal(png.subarray(1, 4).toString(), 'PNG');
                assert.equal(png.readUInt32BE(16), 640); // IHDR width
                assert.equal(png.readUInt32BE(20), 400); // IHDR height
                const info = shot.content.find((c) => c.type === 'text').text;
                assert.match(info, /screen 1280x800/);
                assert.match(info, /scale.*0\.5/);

                const r = ok(await client.callTool({ name: 'computer_input', arguments: { name: desk, actions: [
                    { action: 'type', text: 'echo via-mcp-$((6*7)) > /tmp/mcp.txt' }, { action: 'key', keys: 'Return' }] } }, undefined, callTimeout));
                assert.match(r, /performed 2 action/);
                let seen = '';
                for (let i = 0; i < 40 && !/via-mcp-42/.test(seen); ++i) {
                    seen = ok(await client.callTool({ name: 'run_command', arguments: { name: desk, command: 'cat /tmp/mcp.txt 2>/dev/null' } }, undefined, callTimeout));
                    await new Promise((res) => setTimeout(res, 500));
                }
                assert.match(seen, /via-mcp-42/);
                const display = ok(await client.callTool({ name: 'display_info', arguments: { name: desk } }, undefined, callTimeout));
                assert.match(display, /"controller": "agent"/);
                const bad = await client.callTool({ name: 'computer_input', arguments: { name: desk, actions: [{ action: 'warp' }] } }, undefined, callTimeout);
                assert.equal(bad.isError, true);
            } finally {
                await client.callTool({ name: 'destroy_sandbox', arguments: { name: desk } }, undefined, callTimeout);
            }
        });

        await t.test('list_sandboxes shows it running', async () => {
            const out = ok(await client.callTool({ name: 'list_sandboxes', arguments: {} }));
            assert.match(out, /mcp-test/);
            assert.match(out, /running/);
        });

        await t.test('destroy_sandbox removes it', async () => {
            ok(await client.callTool({ name: 'destroy_sandbox', arguments: { name } }, undefined, callTimeout));
            const out = ok(await client.callTool({ name: 'list_sandboxes', arguments: {} }));
            assert.doesNotMatch(out, /mcp-test/);
            const again = await client.callTool({ name: 'destroy_sandbox', arguments: { name } }, undefined, callTimeout);
            assert.equal(again.isError, true);
        });
    } finally {
        await client.close();
    }
});
