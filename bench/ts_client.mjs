// The official TypeScript MCP SDK's client (@modelcontextprotocol/sdk: what Claude Code,
// Gemini CLI, VS Code and Cursor build on), driven by bench/mcp_bench.py, which installs
// the SDK beside a copy of this file (.cache/bench/ts-mcp) and runs it with node.
//   node ts_client.mjs NAME=TRANSPORT=URL ...     TRANSPORT: http (Streamable HTTP) or sse
// Connects every client, prints {"ready": [names]}, then answers each stdin line:
//   {"client", "tool", "arguments", "n"}  -> {"ms": [n durations of callTool]}
//   {"wake": {"sender", "receiver", "to", "n"}}
//     -> {"ms": [...]}: the receiver's peer_wait is pending (its first progress came),
//        the sender's peer_send is issued; timed until the receiver has its result.
// A failed call answers {"error": "..."}.
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const clients = {};
for (const spec of process.argv.slice(2)) {
  const [name, kind, url] = spec.split("=");
  const transport = kind === "sse"
    ? new SSEClientTransport(new URL(url))
    : new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: "mcp-bench-ts", version: "0" });
  await client.connect(transport);
  clients[name] = client;
}

async function calls({ client, tool, arguments: args, n }) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const result = await clients[client].callTool({ name: tool, arguments: args });
    ms.push(performance.now() - start);
    if (result.isError) return { error: JSON.stringify(result) };
  }
  return { ms };
}

async function wake({ sender, receiver, to, n }) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    let progressed;
    const pending = new Promise((resolve) => { progressed = resolve; });
    const waiter = clients[receiver]
      .callTool({ name: "peer_wait", arguments: { timeout_s: 30 } }, undefined, {
        onprogress: () => progressed(),
      })
      .then((result) => [performance.now(), result]);
    await pending;
    const start = performance.now();
    const sent = await clients[sender].callTool({
      name: "peer_send", arguments: { to, message: "x".repeat(200) },
    });
    const [woke, result] = await waiter;
    if (sent.isError || result.isError || !result.structuredContent?.messages?.length) {
      return { error: JSON.stringify([sent, result]) };
    }
    ms.push(woke - start);
  }
  return { ms };
}

process.stdout.write(JSON.stringify({ ready: Object.keys(clients) }) + "\n");
for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line);
  let answer;
  try {
    answer = request.wake ? await wake(request.wake) : await calls(request);
  } catch (error) {
    answer = { error: String(error?.stack ?? error) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
for (const client of Object.values(clients)) await client.close();
