// serve: runs the gateway until SIGTERM/SIGINT (graceful), reloading on file change or SIGHUP.
import { COMMON_OPTIONS, loadConfig, parse, type Command } from './common.js';

export const serveCommand: Command = {
  summary: 'run the gateway (public and admin listeners; SIGHUP reloads, SIGTERM stops gracefully)',
  usage: `Usage: applink-gateway serve [--config PATH]

Runs the public listener (server.listen) and the admin listener (admin.listen: /healthz,
/readyz, /readyz/redis, /metrics). Logs are JSON lines on stdout.

  SIGTERM, SIGINT  graceful stop: /readyz fails at once, serving continues for
                   shutdown.delaySeconds, then in-flight requests get shutdown.graceSeconds;
                   exit 0. A second SIGINT stops at once.
  SIGHUP           re-read the configuration (a change of the file or of a key file in a
                   watched directory does the same); an invalid one is logged and ignored.

With server.workers > 1 (or "auto") one primary process supervises that many workers.

Options:
${COMMON_OPTIONS}`,
  async run(argv) {
    const { values } = parse(argv, {});
    const { file, cfg } = loadConfig(values);
    // Loaded here: the other commands start faster without the whole gateway.
    const { serve } = await import('../server/cluster.js');
    const code = await serve(file, cfg);
    // Sockets of the proxy's keep-alive agent and similar must not hold a stopped server open.
    process.exit(code);
  },
};
