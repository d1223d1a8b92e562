// Our MCP server inside the OpenAI Agents SDK (@openai/agents-core): its
// MCPServerStdio spawns `microvm-sandbox mcp --standalone` (through the MCP
// SDK v2 client, @modelcontextprotocol/client), getAllMcpTools turns our tools
// into the SDK's function tools, and the test invokes them as its runner does
// (invokeFunctionTool with the model's JSON arguments). Then a whole agent run
// (Runner with the server in the agent's mcpServers) whose model is a scripted
// test double: it asks for tool calls, the SDK runs them against the guest and
// hands the outputs back to the model. No real model, no tracing, no network.
// One guest, from the agent template (Python for execute_code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Agent, MCPServerStdio, RunContext, Runner, Usage, getAllMcpTools, invokeFunctionTool } from '@openai/agents-core';

const binary = process.env.MVS_APP_BINARY;
const template = 'agent';
const network = { mode: 'none' }; // the agent template's default is egress: no DNS query may leave the machine
const imageBuildTimeoutMs = 1_200_000; // debootstrap of the agent image on a cold cache
const sessionTimeoutS = 600; // a create or a first Python session under TCG on a loaded host

// A tool's output as the runner gets it: the text of our one text item.
function text(output) {
    assert.equal(output?.type, 'text', JSON.stringify(output));
    return output.text;
}

// Invokes a function tool as the runner does, with the arguments as JSON.
async function call(tool, args) {
    return text(await invokeFunctionTool({ tool, runContext: new RunContext(), input: JSON.stringify(args) }));
}

// The model's stand-in (a test double: this test has no model): answers each
// turn with the next scripted output, recording the requests it was sent.
class ScriptedModel {
    constructor(turns) {
        this.turns = turns;
        this.requests = [];
    }
    async getResponse(request) {
        this.requests.push(request);
        assert.ok(this.turns.length > 0, 'the run asked the model more often than scripted');
        return { usage: new Usage(), output: this.turns.shift()(request), responseId: `scripted-${this.requests.length}` };
    }
    async *getStreamedResponse() {
        throw new Error('ScriptedModel does not stream');
    }
}

function functionCall(callId, name, args) {
    return { type: 'function_call', callId, name, arguments: JSON.stringify(args), status: 'completed' };
}

function assistantMessage(text) {
    return { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text }] };
}

test('OpenAI Agents SDK (@openai/agents-core MCPServerStdio) runs our tools', { timeout: 1_500_000 }, async (t) => {
    assert.ok(binary, 'MVS_APP_BINARY must name the microvm-sandbox executable');
    // The image first (a no-op once cached): a create that has to build it can outlast the server's request timeout.
    await promisify(execFile)(binary, ['image', 'build', '--template', template], { timeout: imageBuildTimeoutMs });
    const server = new MCPServerStdio({ name: 'microvm-sandbox', command: binary, args: ['mcp', '--standalone'],
                                        clientSessionTimeoutSeconds: sessionTimeoutS });
    await server.connect();
    try {
        const tools = await getAllMcpTools({ mcpServers: [server], runContext: new RunContext() });
        const tool = Object.fromEntries(tools.map((x) => [x.name, x]));

        await t.test('loads our tools as function tools with their schemas', () => {
            for (const name of ['create_sandbox', 'run_command', 'execute_code', 'read_file', 'write_file', 'destroy_sandbox']) {
                assert.ok(tool[name], `${name} among ${Object.keys(tool)}`);
                assert.equal(tool[name].type, 'function');
            }
            assert.deepEqual(tool.run_command.parameters.required, ['name', 'command']);
            for (const arg of ['name', 'code'])
                assert.ok(tool.execute_code.parameters.required.includes(arg), arg);
        });

        const name = 'oa-box';
        await t.test('create_sandbox boots a guest', async () => {
            assert.match(await call(tool.create_sandbox, { name, template, network }), /oa-box/);
        });

        await t.test('run_command runs in the guest', async () => {
            const out = await call(tool.run_command, { name, command: 'echo from-openai-agents-$((6*7)); uname -s' });
            assert.match(out, /exit code 0/);
            assert.match(out, /from-openai-agents-42\nLinux/);
            const fed = await call(tool.run_command, { name, command: ['sh', '-c', 'cat; exit 3'], stdin: 'fed' });
            assert.match(fed, /exit code 3/);
            assert.match(fed, /fed/);
        });

        await t.test('execute_code runs Python, keeping a session', async () => {
            assert.match(await call(tool.execute_code, { name, language: 'python', code: 'print(6 * 7)' }), /42/);
            await call(tool.execute_code, { name, language: 'python', code: 'x = 41', session: 'oa' });
            assert.match(await call(tool.execute_code, { name, language: 'python', code: 'x + 1', session: 'oa' }), /42/);
            // An exception in the code is its answer (with the traceback), not a failed call.
            assert.match(await call(tool.execute_code, { name, language: 'python', code: '1 / 0' }), /ZeroDivisionError/);
        });

        await t.test('an agent run: the runner calls our tools for the model and returns their outputs to it', async () => {
            const model = new ScriptedModel([
                () => [functionCall('c1', 'write_file', { name, path: '/tmp/runner.txt', content: 'via-runner\n' }),
                       functionCall('c2', 'run_command', { name: 'no-such-sandbox', command: 'true' })],
                () => [functionCall('c3', 'run_command', { name, command: 'tr a-z A-Z < /tmp/runner.txt' })],
                () => [assistantMessage('done')],
            ]);
            const agent = new Agent({ name: 'sandboxer', instructions: 'Work in the sandbox.', mcpServers: [server], model });
            const result = await new Runner({ tracingDisabled: true }).run(agent, 'Write a file and read it back in Python.');
            assert.equal(result.finalOutput, 'done');
            assert.equal(model.requests.length, 3);
            assert.ok(model.requests[0].tools.some((x) => x.name === 'run_command'), 'the model was offered run_command');
            // What the model was sent back, by call: each turn's input has the outputs of all calls so far.
            const outputs = Object.fromEntries(model.requests[2].input.filter((i) => i.type === 'function_call_result')
                                                   .map((i) => [i.callId, i.output.map((o) => o.text).join('')]));
            assert.match(outputs.c1, /wrote 11 bytes to \/tmp\/runner.txt/);
            assert.match(outputs.c2, /no VM named 'no-such-sandbox'/);
            assert.match(outputs.c3, /exit code 0\n--- stdout ---\nVIA-RUNNER/);
        });

        await t.test('destroy_sandbox removes it', async () => {
            await call(tool.destroy_sandbox, { name });
            assert.doesNotMatch(await call(tool.list_sandboxes, {}), /oa-box/);
        });
    } finally {
        await server.close();
    }
});
