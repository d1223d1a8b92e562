// Our MCP server inside LangChain, as a LangChain agent uses it:
// @langchain/mcp-adapters' MultiServerMCPClient spawns `microvm-sandbox mcp
// --standalone` over stdio and turns our tools into LangChain tools; the test
// invokes them with tool calls, as an agent's model emits them, directly and
// through LangGraph's ToolNode (the step of a LangChain agent that runs the
// model's tool calls). No model: the tool calls are written here. One guest,
// from the agent template (Python for execute_code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MultiServerMCPClient } from '@langchain/mcp-adapters';
import { ToolNode } from '@langchain/langgraph/prebuilt';
import { AIMessage, ToolMessage } from '@langchain/core/messages';

const binary = process.env.MVS_APP_BINARY;
const template = 'agent';
const network = { mode: 'none' }; // the agent template's default is egress: no DNS query may leave the machine
const imageBuildTimeoutMs = 1_200_000; // debootstrap of the agent image on a cold cache
const toolTimeoutMs = 600_000; // a create or a first Python session under TCG on a loaded host

let callId = 0;
// A tool call as a chat model emits it.
function toolCall(name, args) {
    return { name, args, id: `call_${++callId}`, type: 'tool_call' };
}

// Invokes a LangChain tool with a tool call: the answer is a ToolMessage.
async function call(tool, args) {
    const message = await tool.invoke(toolCall(tool.name, args));
    assert.ok(message instanceof ToolMessage, String(message));
    assert.equal(typeof message.content, 'string', JSON.stringify(message.content));
    return message.content;
}

test('LangChain (@langchain/mcp-adapters) runs our tools over stdio', { timeout: 1_500_000 }, async (t) => {
    assert.ok(binary, 'MVS_APP_BINARY must name the microvm-sandbox executable');
    // The image first (a no-op once cached): a create that has to build it can outlast the server's request timeout.
    await promisify(execFile)(binary, ['image', 'build', '--template', template], { timeout: imageBuildTimeoutMs });
    const client = new MultiServerMCPClient({
        throwOnLoadError: true,
        defaultToolTimeout: toolTimeoutMs,
        mcpServers: { sandbox: { transport: 'stdio', command: binary, args: ['mcp', '--standalone'], stderr: 'inherit' } },
    });
    try {
        const tools = await client.getTools();
        const tool = Object.fromEntries(tools.map((x) => [x.name, x]));

        await t.test('loads our tools as LangChain tools with their schemas', () => {
            for (const name of ['create_sandbox', 'run_command', 'execute_code', 'read_file', 'write_file', 'destroy_sandbox'])
                assert.ok(tool[name], `${name} among ${Object.keys(tool)}`);
            assert.match(tool.run_command.description, /Run a command/);
            assert.deepEqual(tool.run_command.schema.required, ['name', 'command']);
            for (const arg of ['name', 'code'])
                assert.ok(tool.execute_code.schema.required.includes(arg), arg);
        });

        const name = 'lc-box';
        await t.test('create_sandbox boots a guest', async () => {
            assert.match(await call(tool.create_sandbox, { name, template, network }), /lc-box/);
        });

        await t.test('run_command runs in the guest', async () => {
            const out = await call(tool.run_command, { name, command: 'echo from-langchain-$((6*7)); uname -s' });
            assert.match(out, /exit code 0/);
            assert.match(out, /from-langchain-42\nLinux/);
            const fed = await call(tool.run_command, { name, command: ['sh', '-c', 'cat; exit 3'], stdin: 'fed' });
            assert.match(fed, /exit code 3/);
            assert.match(fed, /fed/);
        });

        await t.test('execute_code runs Python, keeping a session', async () => {
            assert.match(await call(tool.execute_code, { name, language: 'python', code: 'print(6 * 7)' }), /42/);
            await call(tool.execute_code, { name, language: 'python', code: 'x = 41', session: 'lc' });
            assert.match(await call(tool.execute_code, { name, language: 'python', code: 'x + 1', session: 'lc' }), /42/);
            // An exception in the code is its answer (with the traceback), not a failed call.
            assert.match(await call(tool.execute_code, { name, language: 'python', code: '1 / 0' }), /ZeroDivisionError/);
        });

        await t.test("ToolNode runs a model's tool calls; a failing one becomes an error message", async () => {
            const calls = [
                toolCall('run_command', { name, command: 'echo via-toolnode' }),
                toolCall('run_command', { name: 'no-such-sandbox', command: 'true' }),
            ];
            const { messages } = await new ToolNode(tools).invoke({ messages: [new AIMessage({ content: '', tool_calls: calls })] });
            assert.deepEqual(messages.map((m) => m.tool_call_id), calls.map((c) => c.id));
            assert.deepEqual(messages.map((m) => m.status), ['success', 'error']);
            assert.match(messages[0].content, /exit code 0\n--- stdout ---\nvia-toolnode/);
            assert.match(messages[1].content, /no VM named 'no-such-sandbox'/);
        });

        await t.test('destroy_sandbox removes it', async () => {
            await call(tool.destroy_sandbox, { name });
            assert.doesNotMatch(await call(tool.list_sandboxes, {}), /lc-box/);
        });
    } finally {
        await client.close();
    }
});
