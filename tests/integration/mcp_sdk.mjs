// Drives DataChat's MCP server with the official TypeScript SDK client, over
// stdio (`datachat mcp`) and streamable HTTP (POST /mcp). Prints one line per
// check and exits non-zero on the first failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [dc, db, audit, port, token] = process.argv.slice(2);

function must(cond, what, detail) {
  if (!cond) {
    console.log(`FAIL: ${what}: ${JSON.stringify(detail).slice(0, 500)}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

async function exercise(name, transport) {
  const client = new Client({ name: "datachat-test", version: "1.0.0" });
  await client.connect(transport);
  const info = client.getServerVersion();
  must(info && info.name === "datachat", `${name}: server info`, info);
  const { tools } = await client.listTools();
  const ask = tools.find((t) => t.name === "ask");
  must(ask && ask.inputSchema.type === "object", `${name}: tools/list has ask`, tools);
  const r = await client.callTool({ name: "ask", arguments: { question: "how many products are there" } });
  must(!r.isError && /SQL:/.test(r.content[0].text), `${name}: ask answers with SQL`, r);
  const bad = await client.callTool({ name: "ask", arguments: { question: "delete every order" } });
  must(bad.isError === true, `${name}: a destructive ask is refused`, bad);
  let threw = false;
  try {
    await client.callTool({ name: "no_such_tool", arguments: {} });
  } catch (e) {
    threw = true;
  }
  must(threw, `${name}: an unknown tool is a protocol error`, null);
  await client.close();
}

await exercise("stdio", new StdioClientTransport({
  command: dc,
  args: ["--audit", audit, "mcp", "--db", db],
  stderr: "inherit",
}));
await exercise("http", new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
}));
console.log("mcp_sdk: all passed");
