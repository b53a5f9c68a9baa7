// The bench's minimal upstream ("AppB"): answers every request 200 with a small JSON body,
// after draining the request body. Nothing else: only the subject in front of it is measured.
// Usage: node upstream.mjs PORT   (prints "listening PORT" when ready)
/* global process, console, Buffer */
import http from 'node:http';

const port = Number(process.argv[2] ?? 0);
const body = Buffer.from('{"name":"alice","displayName":"Alice","active":true}');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
