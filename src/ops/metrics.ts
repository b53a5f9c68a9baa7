// Prometheus metrics (prom-client), one registry per gateway so tests can run several.
// Gauges name their cluster aggregation (server.workers > 1 sums counters across workers).
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

export type Flow = '3LO' | '2LO' | '2LOi' | 'unsigned' | 'dance' | 'passthrough';
export type DanceEvent = 'issued' | 'approved' | 'denied' | 'exchanged' | 'renewed' | 'revoked';

export interface Metrics {
  registry: Registry;
  /** Requests by flow and outcome (ok, refused, upstream_error, store_unavailable, error, aborted). */
  requests: Counter<'flow' | 'outcome'>;
  /** OAuth refusals by oauth_problem and link ('' when no link is known). */
  refusals: Counter<'problem' | 'link'>;
  /** Time AppB took to answer forwarded requests. */
  upstreamDuration: Histogram<'flow'>;
  /** AppB answered a re-signed request with its own OAuth refusal (answered as 502). */
  upstreamOAuthRefusals: Counter<'link'>;
  danceEvents: Counter<'event' | 'link'>;
  /** Reloads by result: success, failure (the old configuration kept serving), unchanged. */
  configReloads: Counter<'result'>;
  /** 1 when the last reload attempt succeeded (or nothing was reloaded yet), 0 after a refused one. */
  configLastReloadSuccess: Gauge;
  /** Unix time of the configuration now serving. */
  configLoadedTimestamp: Gauge;
  storeErrors: Counter;
  storeUp: Gauge;
  /** Requests answered 429 consumer_key_refused by security.failureLimit, by scope (source, consumer_source). */
  failureLimitRefusals: Counter<'scope'>;
  /** Slow clients cut off, by phase: headers, request (server.timeouts.requestMs), body_idle, body_total. */
  clientTimeouts: Counter<'phase'>;
  /** Hot-path forms of requests.inc / refusals.inc / upstreamDuration.observe: one cached series per label set. */
  countRequest(flow: string, outcome: string): void;
  countRefusal(problem: string, link: string): void;
  observeUpstream(flow: string, seconds: number): void;
}

/**
 * Counts by label set in a plain map, handed to prom-client when the registry is collected (a
 * scrape, or the cluster primary asking a worker): an increment on the request path is one map
 * lookup, not prom-client's label validation and hashing.
 */
function countedSeries<L extends string>(counter: Counter<L>, labelNames: readonly L[]): (...values: string[]) => void {
  const series = new Map<string, { labels: Record<string, string>; value: number; synced: number }>();
  (counter as unknown as { collect?: () => void }).collect = () => {
    for (const s of series.values()) {
      if (s.value > s.synced) {
        counter.inc(s.labels as Partial<Record<L, string>>, s.value - s.synced);
        s.synced = s.value;
      }
    }
  };
  return (...values: string[]) => {
    const key = values.length === 1 ? (values[0] as string) : values.join('\u0000');
    let s = series.get(key);
    if (s === undefined) {
      const labels: Record<string, string> = {};
      labelNames.forEach((name, i) => (labels[name] = values[i] ?? ''));
      s = { labels, value: 0, synced: 0 };
      series.set(key, s);
    }
    s.value++;
  };
}

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop, GC). Default true. */
  defaultMetrics?: boolean;
  /** Read at every scrape for applink_store_up (a worker has no admin port to refresh it). */
  storeHealthy?: () => boolean;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    requests: new Counter({ name: 'applink_requests_total', help: 'Requests by flow and outcome', labelNames: ['flow', 'outcome'], registers: [registry] }),
    refusals: new Counter({ name: 'applink_oauth_refusals_total', help: 'OAuth refusals by oauth_problem and link', labelNames: ['problem', 'link'], registers: [registry] }),
    upstreamDuration: new Histogram({
      name: 'applink_upstream_duration_seconds',
      help: 'Upstream (AppB) response time',
      labelNames: ['flow'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    upstreamOAuthRefusals: new Counter({ name: 'applink_upstream_oauth_refusals_total', help: "AppB refused the gateway's re-signed request (answered 502)", labelNames: ['link'], registers: [registry] }),
    danceEvents: new Counter({ name: 'applink_dance_events_total', help: 'Dance events: issued, approved, denied, exchanged, renewed, revoked', labelNames: ['event', 'link'], registers: [registry] }),
    configReloads: new Counter({ name: 'applink_config_reloads_total', help: 'Configuration reloads by result (success, failure, unchanged)', labelNames: ['result'], registers: [registry] }),
    configLastReloadSuccess: new Gauge({ name: 'applink_config_last_reload_success', help: '1 when the last configuration reload succeeded, 0 when it was refused', aggregator: 'min', registers: [registry] }),
    configLoadedTimestamp: new Gauge({ name: 'applink_config_loaded_timestamp_seconds', help: 'Unix time the serving configuration was loaded', aggregator: 'min', registers: [registry] }),
    storeErrors: new Counter({ name: 'applink_store_errors_total', help: 'Token store (Redis) errors', registers: [registry] }),
    failureLimitRefusals: new Counter({
      name: 'applink_failure_limit_refusals_total',
      help: 'Requests refused 429 after too many verification failures, by scope (source, consumer_source)',
      labelNames: ['scope'],
      registers: [registry],
    }),
    storeUp: new Gauge({
      name: 'applink_store_up',
      help: '1 while the token store answers',
      aggregator: 'min',
      registers: [registry],
      collect() {
        if (opts.storeHealthy) this.set(opts.storeHealthy() ? 1 : 0);
      },
    }),
    clientTimeouts: new Counter({ name: 'applink_client_timeouts_total', help: 'Slow clients cut off (408, connection closed) by phase: headers, request, body_idle, body_total', labelNames: ['phase'], registers: [registry] }),
  } as Metrics;
  m.countRequest = countedSeries(m.requests, ['flow', 'outcome']);
  m.countRefusal = countedSeries(m.refusals, ['problem', 'link']);
  const upstreamLabels = new Map<string, { flow: string }>();
  m.observeUpstream = (flow, seconds) => {
    let labels = upstreamLabels.get(flow);
    if (labels === undefined) upstreamLabels.set(flow, (labels = { flow }));
    m.upstreamDuration.observe(labels, seconds);
  };
  m.configLastReloadSuccess.set(1);
  m.configLoadedTimestamp.set(Date.now() / 1000);
  return m;
}
