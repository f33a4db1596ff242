/**
 * Running the engines' own benchmark tools (through `bench/native/*.sh`) and reading what they
 * print. The parsers are pure (unit-tested on captured output); `runTool` bounds a tool by time
 * and kills its whole process group (only the one it started) when time is up.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Killed by the time guard. */
  timedOut: boolean;
  millis: number;
}

/**
 * Runs `bench/native/<script> args...` with extra env, for at most `maxMillis` (then SIGTERM to
 * its process group, SIGKILL 5 s later). Never rejects for a non-zero exit; the caller reads
 * `code`.
 */
export function runTool(
  repoRoot: string,
  script: string,
  args: string[],
  env: Record<string, string>,
  maxMillis: number,
  stdin?: Buffer,
): Promise<ToolRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(repoRoot, 'bench', 'native', script), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so that the JVM under bash goes too
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.length > 4_000_000) stdout = stdout.slice(-2_000_000);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
    });
    if (stdin && child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(stdin);
    }
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const guard = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM');
      killTimer = setTimeout(() => kill('SIGKILL'), 5000);
    }, maxMillis);
    child.on('error', (e) => {
      clearTimeout(guard);
      clearTimeout(killTimer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(guard);
      clearTimeout(killTimer);
      resolve({ code, stdout, stderr, timedOut, millis: performance.now() - started });
    });
  });
}

/** The last few lines of a tool's output, for an error message. */
export function tail(text: string, lines = 5): string {
  return text.trim().split('\n').slice(-lines).join(' | ').slice(0, 600);
}

// ---------------------------------------------------------------------------------------------
// redis-benchmark --csv

export interface RedisBenchmarkRow {
  test: string;
  rps: number;
}

/** Rows of `redis-benchmark --csv` (header `"test","rps",...`). Progress lines are skipped. */
export function parseRedisBenchmarkCsv(text: string): RedisBenchmarkRow[] {
  const rows: RedisBenchmarkRow[] = [];
  for (const raw of text.split(/[\r\n]+/)) {
    const line = raw.trim();
    const m = /^"([^"]*)","([0-9.]+)"/.exec(line);
    if (!m || m[1] === 'test') continue;
    rows.push({ test: m[1] as string, rps: Number(m[2]) });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ PerfTest

export interface PerfTestSummary {
  sendRate?: number;
  receiveRate?: number;
  /** e.g. "Producer reached message limit", "Reached time limit". */
  stopReason?: string;
  /** Seconds of the last sample line. */
  lastSampleSeconds?: number;
}

export function parsePerfTest(text: string): PerfTestSummary {
  const out: PerfTestSummary = {};
  const send = /sending rate avg: ([0-9.]+) msg\/s/.exec(text);
  const recv = /receiving rate avg: ([0-9.]+) msg\/s/.exec(text);
  const stop = /test stopped \(([^)]*)\)/.exec(text);
  if (send) out.sendRate = Number(send[1]);
  if (recv) out.receiveRate = Number(recv[1]);
  if (stop) out.stopReason = stop[1] as string;
  const times = [...text.matchAll(/time:? ([0-9.]+) ?s,/g)];
  const last = times[times.length - 1];
  if (last) out.lastSampleSeconds = Number(last[1]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Kafka ProducerPerformance / ConsumerPerformance

export interface ProducerPerfSummary {
  records: number;
  rate: number;
  /** The tool's final summary line was seen (false: killed; figures come from the windows). */
  final: boolean;
}

/**
 * ProducerPerformance prints a line per 5 s window (`N records sent, R records/sec ...`) and a
 * final one with percentiles (`... 99.9th.`). Without the final line (the tool was stopped), the
 * windows are summed: records = sum, rate = records / (windows' duration, from their rates).
 */
export function parseProducerPerformance(text: string): ProducerPerfSummary | undefined {
  const re = /^(\d+) records sent, ([0-9.]+) records\/sec.*$/gm;
  const lines = [...text.matchAll(re)];
  if (lines.length === 0) return undefined;
  const last = lines[lines.length - 1] as RegExpMatchArray;
  if (/99\.9th/.test(last[0])) return { records: Number(last[1]), rate: Number(last[2]), final: true };
  let records = 0;
  let seconds = 0;
  for (const l of lines) {
    const n = Number(l[1]);
    const r = Number(l[2]);
    records += n;
    if (r > 0) seconds += n / r;
  }
  return { records, rate: seconds > 0 ? records / seconds : 0, final: false };
}

export interface ConsumerPerfSummary {
  messages: number;
  /** data.consumed.in.nMsg / (end - start): includes the group join. */
  rate: number;
  /** fetch.nMsg.sec: without the group join. */
  fetchRate: number;
  rebalanceMillis: number;
  fetchMillis: number;
}

/** ConsumerPerformance's CSV-ish summary: a header line and a values line. */
export function parseConsumerPerformance(text: string): ConsumerPerfSummary | undefined {
  const lines = text.split('\n').map((l) => l.trim());
  const h = lines.findIndex((l) => l.startsWith('start.time,'));
  if (h < 0) return undefined;
  const header = (lines[h] as string).split(',').map((s) => s.trim());
  const values = (lines[h + 1] ?? '').split(',').map((s) => s.trim());
  if (values.length !== header.length) return undefined;
  const get = (k: string) => Number(values[header.indexOf(k)]);
  const messages = get('data.consumed.in.nMsg');
  if (!Number.isFinite(messages)) return undefined;
  return {
    messages,
    rate: get('nMsg.sec'),
    fetchRate: get('fetch.nMsg.sec'),
    rebalanceMillis: get('rebalance.time.ms'),
    fetchMillis: get('fetch.time.ms'),
  };
}

// ---------------------------------------------------------------------------------------------
// ActiveMQ's demo producer / consumer (activemq-console), logging `<unix millis> <message>`

export interface ActivemqToolSummary {
  messages: number;
  millis: number;
  rate: number;
}

/** `Produced: N messages` and `Elapsed time in milli second : T milli seconds`, summed over threads. */
export function parseActivemqProducer(text: string): ActivemqToolSummary | undefined {
  const produced = [...text.matchAll(/Produced: (\d+) messages/g)].map((m) => Number(m[1]));
  const elapsed = [...text.matchAll(/Elapsed time in milli second : (\d+) milli seconds/g)].map((m) =>
    Number(m[1]),
  );
  if (!produced.length || !elapsed.length) return undefined;
  const messages = produced.reduce((a, b) => a + b, 0);
  const millis = Math.max(...elapsed);
  return { messages, millis, rate: millis > 0 ? (messages / millis) * 1000 : 0 };
}

/**
 * The consumer prints no rate: it is the count of `Consumed: N messages` over the time between
 * its `wait until N messages are consumed` line and that one (log timestamps in unix ms).
 */
export function parseActivemqConsumer(text: string): ActivemqToolSummary | undefined {
  const start = /^(\d{10,}) \S+ wait until \d+ messages are consumed/m.exec(text);
  const ends = [...text.matchAll(/^(\d{10,}) \S+ Consumed: (\d+) messages/gm)];
  if (!start || !ends.length) return undefined;
  const messages = ends.reduce((a, m) => a + Number(m[2]), 0);
  const millis = Math.max(...ends.map((m) => Number(m[1]))) - Number(start[1]);
  return { messages, millis, rate: millis > 0 ? (messages / millis) * 1000 : 0 };
}
