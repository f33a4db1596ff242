/**
 * ZeroMQ in the benchmark: the pipeline pattern through mqop's own device, `mqop zmq-proxy
 * --role=central --pattern=pipeline` (the bench command starts one for the run, see
 * cli.ts): a PUSH connected to the proxy's frontend → the proxy's PULL
 * → its PUSH → our PULL connected to the backend, with the zeromq npm package (libzmq).
 *
 * ZeroMQ stores nothing: a message that no puller takes waits in the sockets' queues, bounded by
 * the high-water marks (1000 messages per pipe by default), and then the pusher blocks. So
 * "enqueue 1,000,000, then dequeue them" cannot be done as two phases; both phases run at once
 * ({@link BenchEngine.concurrentPhases}): enqueue is the pusher's rate (sends accepted by libzmq),
 * dequeue the puller's (messages received), over the same span. Sends are not acknowledged by
 * anything (ZeroMQ has no confirms); a message counts as dequeued once our PULL returned it.
 *
 * Native: libzmq's own throughput tools (`local_thr` / `remote_thr`, in its source tree's perf/)
 * are not shipped by Debian's libzmq5 / libzmq3-dev nor by the pyzmq wheels, so there is no
 * native ceiling for ZeroMQ (see {@link zeromqBench}.notes).
 *
 * Target: `url` the proxy's frontend (`tcp://127.0.0.1:5555`), `extra.backend` its backend
 * (default: the frontend's port + 1). The run's proxy is its own, so no other traffic is
 * counted; frames of another size than the run's are not counted either.
 */
import * as zmq from 'zeromq';
import type { SmokeTarget } from '../../smoke-tests/src/types.ts';
import type { BenchEngine, BenchQueue, BenchRunContext, Progress } from './types.ts';
import { benchPayload } from './util.ts';

/** The frontend and backend endpoints of a target (`tcp://host:port`). */
export function zeromqEndpoints(target: SmokeTarget): { frontend: string; backend: string } {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/\s]+):(\d{1,5})\/?$/.exec(target.url.trim());
  if (!m) throw new Error(`ZeroMQ URL must look like tcp://host:port, not "${target.url}"`);
  const frontend = `tcp://${m[1]}:${m[2]}`;
  const backend = target.extra?.backend?.trim() || `tcp://${m[1]}:${Number(m[2]) + 1}`;
  if (!/^tcp:\/\/(\[[^\]]+\]|[^:/\s]+):\d{1,5}$/.test(backend)) {
    throw new Error(`ZeroMQ backend must look like tcp://host:port, not "${backend}"`);
  }
  return { frontend, backend };
}

/** A receive gives up after this long, so that the phase guard is looked at. */
const RECEIVE_TIMEOUT_MILLIS = 500;
/** After closing, before the next run may connect to the same proxy (see close()). */
const CLOSE_SETTLE_MILLIS = 500;
/** Checkpoints are counted in steps of this many messages (fewer calls into the meter). */
const METER_STEP = 64;

/**
 * Messages sent but not yet received, at most (and bytes): below the sockets' high-water marks,
 * so that no pipe on the way ever fills up. With the pipes allowed to fill (the pusher blocking
 * on the HWM), a 1,000,000 × 10 KB run lost 126 messages somewhere between our PUSH and our
 * PULL (libzmq 4.3 proxy); with the window none are lost.
 */
const MAX_WINDOW = 500;
const WINDOW_BYTES = 8 * 1024 * 1024;

export function zeromqWindow(size: number): number {
  return Math.max(1, Math.min(MAX_WINDOW, Math.floor(WINDOW_BYTES / Math.max(1, size))));
}

class ZeromqQueue implements BenchQueue {
  private readonly push: zmq.Push;
  private readonly pull: zmq.Pull;
  private readonly size: number;
  /** Sent by enqueue / received by dequeue, for the window. */
  private sent = 0;
  private received = 0;
  private wake: (() => void) | undefined;

  constructor(frontend: string, backend: string, size: number) {
    const ipv6 = frontend.includes('[') || backend.includes('[');
    // Default high-water marks (1000 per pipe): the proxy's queues stay bounded, and the pusher
    // waits (never drops) when they are full.
    this.pull = new zmq.Pull({ linger: 0, ipv6, receiveTimeout: RECEIVE_TIMEOUT_MILLIS });
    this.push = new zmq.Push({ linger: 0, ipv6 });
    this.pull.connect(backend);
    this.push.connect(frontend);
    this.size = size;
  }

  async enqueue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    const payload = benchPayload(this.size);
    const window = zeromqWindow(this.size);
    const wakeUp = () => this.wakeSender();
    signal.addEventListener('abort', wakeUp, { once: true });
    let pending = 0;
    for (let i = 0; i < n && !signal.aborted; i++) {
      while (this.sent - this.received >= window && !signal.aborted) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
      if (signal.aborted) break;
      // One send at a time per socket (zeromq.js); it resolves at once while libzmq has room.
      await this.push.send(payload);
      this.sent++;
      if (++pending === METER_STEP) {
        meter.add(pending);
        pending = 0;
      }
    }
    if (pending) meter.add(pending);
    signal.removeEventListener('abort', wakeUp);
  }

  private wakeSender(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async dequeue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    if (n <= 0) return;
    let got = 0;
    let pending = 0;
    while (got < n && !signal.aborted) {
      let frames: Buffer[];
      try {
        frames = await this.pull.receive();
      } catch (e) {
        // The receive timeout: nothing for a while; look at the guard again.
        if ((e as { code?: string }).code === 'EAGAIN') continue;
        throw e;
      }
      if (frames.length !== 1 || frames[0]?.length !== this.size) continue;
      got++;
      this.received++;
      if (this.wake && this.sent - this.received < zeromqWindow(this.size) / 2) this.wakeSender();
      if (++pending === METER_STEP || got === n) {
        meter.add(pending);
        pending = 0;
      }
    }
    if (pending) meter.add(pending);
  }

  async close(): Promise<void> {
    this.push.close();
    this.pull.close();
    // The proxy's backend PUSH round-robins over every PULL it still has a pipe to. Until it has
    // seen this PULL's connection close, the next run (the next message size, same proxy) would
    // lose its first messages to it: CI saw 12 of 2,000 go missing that way. Closing takes the
    // proxy well under a millisecond to notice on loopback; wait far longer.
    await new Promise((r) => setTimeout(r, CLOSE_SETTLE_MILLIS));
  }
}

export const zeromqBench: BenchEngine = {
  engine: 'zeromq',
  concurrentPhases: true,
  notes: [
    'ZeroMQ stores nothing, so enqueue and dequeue run at once (pipeline PUSH → `mqop zmq-proxy` → PULL); ' +
      "enqueue is the pusher's rate, dequeue the puller's, over the same span.",
    "No native ceiling: libzmq's `local_thr` / `remote_thr` live in its source tree (perf/) and are " +
      "not shipped by Debian's libzmq5 / libzmq3-dev nor by the pyzmq wheels (checked: no perf " +
      'programs in either), and building them from source is not an option here; so no ratio.',
  ],
  describeOurs({ messageBytes }) {
    return (
      'zeromq (libzmq) PUSH → mqop zmq-proxy (central, pipeline; libzmq proxy loop) → PULL, ' +
      `default high-water marks (1000), one frame per message, both phases at once, up to ` +
      `${zeromqWindow(messageBytes)} messages sent but not yet received`
    );
  },
  async open(target: SmokeTarget, ctx: BenchRunContext) {
    const { frontend, backend } = zeromqEndpoints(target);
    return new ZeromqQueue(frontend, backend, ctx.messageBytes);
  },
  async brokerVersion() {
    const [major, minor, patch] = zmq.version.split('.');
    return `mqop zmq-proxy (libzmq ${[major, minor, patch].filter(Boolean).join('.')})`;
  },
};
