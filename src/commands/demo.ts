// demo: the gateway, a sample AppB and a scripted AppA on the memory store, walking the Trust flow.
import { COMMON_OPTIONS, EXIT, UsageError, parse, type Command } from './common.js';

export const demoCommand: Command = {
  summary: 'walk the Trust flow with a sample AppA and AppB (nothing to install; --serve keeps it running)',
  usage: `Usage: applink-gateway demo [--serve] [--port N] [--logs]

Starts the gateway in this process (in-memory token store, a configuration built in code),
a sample AppB (its own sign-in; trusts the gateway's RSA key for two-legged impersonation)
and a scripted AppA, then walks the Trust flow, printing each step: login-dance entry,
sign-in at AppB, request token issued, approval, redirect with oauth_verifier, exchange,
a signed call AppB runs as the user, a 2LOi call, and a refused 2LOi call. Exits 0 only
when every step succeeded. It reads no configuration file.

Options:
  --serve         keep running after the walk-through and print the URL to try it in a
                  browser, until Ctrl-C
  --port N        the gateway's public port (default: any free port)
  --logs          write the gateway's JSON logs to stderr
${COMMON_OPTIONS} (accepted, not used: the demo builds its own)`,
  async run(argv) {
    const { values } = parse(argv, { serve: { type: 'boolean' }, port: { type: 'string' }, logs: { type: 'boolean' } });
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new UsageError('--port must be a port number');
    // Loaded here: the other commands start faster without the whole gateway.
    const { runDemo } = await import('../demo/run.js');
    const { createLogger } = await import('../ops/logger.js');
    const pino = (await import('pino')).default;
    const log = values.logs === true ? createLogger({ level: 'info', destination: pino.destination({ fd: 2, sync: false }) }) : undefined;
    let serve: { stop: Promise<unknown> } | undefined;
    if (values.serve === true) {
      serve = { stop: new Promise((resolve) => ['SIGINT', 'SIGTERM'].forEach((s) => process.once(s, resolve))) };
    }
    const result = await runDemo({ log, serve, port });
    return result.ok ? EXIT.ok : EXIT.failure;
  },
};
