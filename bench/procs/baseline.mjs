// The bench's baseline: the bare reverse proxy the gateway is built on (http-proxy with a
// keep-alive agent towards the upstream) and nothing else — no Koa, no logging, no OAuth.
// Usage: node baseline.mjs PORT UPSTREAM_URL   (prints "listening PORT" when ready)
/* global process, console */
import http from 'node:http';
import httpProxy from 'http-proxy';

const port = Number(process.argv[2] ?? 0);
const target = process.argv[3];
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ target, agent, xfwd: true });
proxy.on('error', (_err, _req, res) => {
  if (res && 'writeHead' in res && !res.headersSent) res.writeHead(502);
  res?.end();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
