/**
 * The one interface every engine's smoke test implements: produce N messages of a given size
 * through the broker on the smoke test's own queue/topic/stream (`mqop-smoke-*`), consume them
 * back, and report what arrived. Results feed `status.smokeTest`, metrics and Events.
 */

/** Where the broker is and how to log in. Secrets stay in memory; never log this object. */
export interface SmokeTarget {
  /** Engine-native URL, e.g. `redis://host:6379`, `amqp://host:5672`, `kafka://h1:9092,h2:9092`. */
  url: string;
  username?: string;
  password?: string;
  /** Engine-specific extras from the connection Secret (e.g. `sentinel.master`, `pattern`). */
  extra?: Record<string, string>;
}

export interface SmokeOptions {
  messages: number;
  messageBytes: number;
  timeoutSeconds: number;
  /** Unique id of this run; names the run's own queue/topic/stream (`mqop-smoke-<id>`). */
  runId?: string;
}

/** Why a run failed, told apart so that status and alerts can say what to fix. */
export type SmokeErrorKind = 'auth' | 'unreachable' | 'timeout' | 'protocol';

export interface SmokeResult {
  ok: boolean;
  produced: number;
  consumed: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  p50Millis: number;
  p99Millis: number;
  durationMillis: number;
  errorKind?: SmokeErrorKind;
  /** Human-readable; never contains a secret. */
  message?: string;
}

/** One engine's smoke test. */
export interface SmokeTest {
  engine: string;
  run(target: SmokeTarget, options: SmokeOptions): Promise<SmokeResult>;
}
