// WebSocket upgrades to AppB. Filled in by the proxy work (issue 4).
import type http from 'node:http';
import type { Gateway } from '../gateway.js';

export function attachUpgradeHandler(server: http.Server, _gw: Gateway): void {
  server.on('upgrade', (_req, socket) => {
    socket.end('HTTP/1.1 501 Not Implemented\r\nConnection: close\r\n\r\n');
  });
}
