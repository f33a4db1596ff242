/**
 * The benchmark's outputs, all pure text from a {@link BenchReport}: the raw JSON, a markdown
 * table per engine (size × phase: ours, native, ratio, the 2013 figures), and a grouped bar chart
 * as hand-written SVG (log scale; no chart library). `writeResults` puts the three in a folder.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { BenchPhase, BenchReport, EngineResult, SizeResult } from './types.ts';

/**
 * The 2013 figures the seed compares against (ops/s, Redis | RabbitMQ), by phase and size.
 * Only these two engines have them.
 */
export const HISTORICAL_2013: Readonly<Record<string, Record<BenchPhase, Record<number, number>>>> = {
  redis: {
    enqueue: { 128: 16088, 512: 15961, 1024: 17094, 10240: 25 },
    dequeue: { 128: 15955, 512: 20449, 1024: 18098, 10240: 9355 },
  },
  rabbitmq: {
    enqueue: { 128: 10627, 512: 9916, 1024: 9370, 10240: 2366 },
    dequeue: { 128: 3219, 512: 3174, 1024: 2982, 10240: 1588 },
  },
};

/** The goal: ours at least this fraction of native. */
export const GOAL_RATIO = 0.5;

export function historical(engine: string, phase: BenchPhase, size: number): number | undefined {
  return HISTORICAL_2013[engine]?.[phase]?.[size];
}

/** 128 → "128 B", 1024 → "1 KB", 10240 → "10 KB", 1536 → "1536 B". */
export function sizeLabel(bytes: number): string {
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KB`;
  return `${bytes} B`;
}

/** 1234567 → "1,234,567"; undefined/0 → "—". */
export function fmtRate(n: number | undefined): string {
  if (n === undefined || !(n > 0)) return '—';
  return Math.round(n).toLocaleString('en-US');
}

export function fmtRatio(r: number | undefined): string {
  if (r === undefined) return '—';
  const pct = `${Math.round(r * 100)}%`;
  return r >= GOAL_RATIO ? pct : `**${pct}**`;
}

/**
 * File names of one report: `seed-<YYYY-MM-DD>.json`, `seed.md`, `seed.svg`. When `taken` says
 * that JSON name is used already (an earlier run of the same day), the JSON gets the run's start
 * time as a suffix (`seed-<YYYY-MM-DD>-<HHMM>.json`, UTC), so earlier results are kept.
 */
export function resultFileNames(
  report: BenchReport,
  taken: (name: string) => boolean = () => false,
): { json: string; md: string; svg: string } {
  const day = report.startedAt.slice(0, 10);
  let json = `seed-${day}.json`;
  if (taken(json)) {
    const hhmm = report.startedAt.slice(11, 16).replace(':', '');
    json = `seed-${day}-${hhmm}.json`;
    for (let i = 2; taken(json); i++) json = `seed-${day}-${hhmm}-${i}.json`;
  }
  return { json, md: 'seed.md', svg: 'seed.svg' };
}

/** How an engine's row is named: `activemq`, or `activemq (non-durable)` for a variant. */
export function engineLabel(e: { engine: string; variant?: string }): string {
  return e.variant ? `${e.engine} (${e.variant})` : e.engine;
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function phaseRow(engine: string, s: SizeResult, phase: BenchPhase, hasNative = true): string {
  const ours = s.ours[phase];
  const nat = s.native?.[phase];
  const flags: string[] = [];
  if (ours.partial) flags.push(`ours partial ${ours.count}/${ours.requested}`);
  if (nat?.partial) flags.push(`native partial${nat.error ? `: ${nat.error}` : ''}`);
  if (ours.error && !ours.partial) flags.push(ours.error);
  const cells = [
    sizeLabel(s.messageBytes),
    phase,
    ours.requested.toLocaleString('en-US'),
    fmtRate(ours.rate),
    s.native ? fmtRate(nat?.rate) : hasNative ? 'not run' : 'none',
    fmtRatio(s.ratio[phase]),
    fmtRate(historical(engine, phase, s.messageBytes)),
    flags.map(mdCell).join('; '),
  ];
  return `| ${cells.join(' | ')} |`;
}

function engineSection(e: EngineResult): string {
  const out: string[] = [];
  out.push(`## ${engineLabel(e)}${e.brokerVersion ? ` ${e.brokerVersion}` : ''}`, '');
  out.push(`Broker: \`${e.url}\`. Native tool: ${e.nativeTool ?? 'none'}.`, '');
  if (e.run) {
    out.push(
      `From an earlier run: \`${e.run.file}\` (started ${e.run.startedAt}` +
        `${e.run.loadAverageAtStart ? `, load average then ${e.run.loadAverageAtStart.join(' / ')}` : ''}).`,
      '',
    );
  }
  if (e.error) out.push(`**Not run:** ${e.error}`, '');
  const first = e.sizes[0];
  if (first) {
    out.push(`- Ours: ${first.ours.how}.`);
    if (first.native) out.push(`- Native: ${first.native.how}.`);
    out.push('');
  }
  for (const n of e.notes) out.push(`> ${n}`, '');
  if (e.sizes.length) {
    const hist = HISTORICAL_2013[e.engine] ? `2013 ${e.engine}` : '2013';
    out.push(`| size | phase | N | ours msg/s | native msg/s | ours/native | ${hist} | notes |`);
    out.push('|---|---|--:|--:|--:|--:|--:|---|');
    for (const s of e.sizes) {
      out.push(phaseRow(e.engine, s, 'enqueue', e.nativeTool !== undefined));
      out.push(phaseRow(e.engine, s, 'dequeue', e.nativeTool !== undefined));
    }
    out.push('');
    const refs = e.sizes.filter((s) => s.native?.reference);
    if (refs.length) {
      const names = Object.keys(refs[0]?.native?.reference ?? {});
      out.push(`Native reference figures (not in the ratio): ${names.join(', ')}.`, '');
      out.push(`| size | ${names.map((n) => `${n} msg/s`).join(' | ')} |`);
      out.push(`|---|${names.map(() => '--:').join('|')}|`);
      for (const s of refs) {
        out.push(
          `| ${sizeLabel(s.messageBytes)} | ${names.map((n) => fmtRate(s.native?.reference?.[n]?.rate)).join(' | ')} |`,
        );
      }
      out.push('');
    }
    out.push('<details><summary>Checkpoints (ours): msg/s of each tenth</summary>', '');
    for (const s of e.sizes) {
      for (const phase of ['enqueue', 'dequeue'] as const) {
        const r = s.ours[phase];
        const cps = r.checkpoints.map((c) => fmtRate(c.rate)).join(', ');
        out.push(
          `- ${sizeLabel(s.messageBytes)} ${phase}: ${cps || '—'} (total ${(r.elapsedMillis / 1000).toFixed(2)} s)`,
        );
      }
    }
    const loads = e.sizes.filter((s) => s.loadAverage !== undefined);
    if (loads.length) {
      out.push(
        '',
        `1-minute load average of the host when each size started: ${loads.map((s) => `${sizeLabel(s.messageBytes)} ${s.loadAverage}`).join(', ')}.`,
      );
    }
    out.push('', '</details>', '');
  }
  return out.join('\n');
}

/** `2026-11-27T13:05:10.123Z` → `2026-11-27 13:05 UTC`. */
export function runLabel(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

function summaryTable(report: BenchReport): string {
  const out: string[] = [];
  out.push(
    '| engine | size | N | enqueue ours | enqueue native | ratio | dequeue ours | dequeue native | ratio | run |',
  );
  out.push('|---|---|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const e of report.engines) {
    const run = runLabel(engineRunStart(report, e));
    if (e.error && !e.sizes.length) {
      out.push(`| ${engineLabel(e)} | — | — | — | — | — | — | — | — | ${run}: not run |`);
    }
    for (const s of e.sizes) {
      const nat = (p: BenchPhase) => (s.native ? fmtRate(s.native[p].rate) : e.nativeTool ? '—' : 'none');
      out.push(
        `| ${engineLabel(e)} | ${sizeLabel(s.messageBytes)} | ${s.messages.toLocaleString('en-US')} | ${fmtRate(s.ours.enqueue.rate)} | ${nat('enqueue')} | ${fmtRatio(s.ratio.enqueue)} | ${fmtRate(s.ours.dequeue.rate)} | ${nat('dequeue')} | ${fmtRatio(s.ratio.dequeue)} | ${run} |`,
      );
    }
  }
  return out.join('\n');
}

/** Phases (engine × size × phase) at or above the goal, and all that have a ratio. */
export function goalCount(report: BenchReport): { met: number; total: number } {
  let met = 0;
  let total = 0;
  for (const e of report.engines) {
    for (const s of e.sizes) {
      for (const r of [s.ratio.enqueue, s.ratio.dequeue]) {
        if (r === undefined) continue;
        total++;
        if (r >= GOAL_RATIO) met++;
      }
    }
  }
  return { met, total };
}

/** The markdown report. The report's notes, then `preamble` (optional), follow the summary. */
export function renderMarkdown(report: BenchReport, preamble = ''): string {
  const h = report.host;
  const goal = goalCount(report);
  const out: string[] = [];
  out.push(`# mqop bench: seed experiment (${report.startedAt.slice(0, 10)})`, '');
  out.push(
    `Enqueue N messages, then dequeue them all (separate phases), per size, through our clients and ` +
      `through each engine's native tool on the same broker in the same run; rate = messages / ` +
      `phase time. Ratio = ours / native (goal: ≥ ${GOAL_RATIO * 100}%; below it in **bold**). ` +
      `The 2013 columns are the historical Redis | RabbitMQ figures (ops/s) for comparison.`,
    '',
  );
  out.push(
    `Host: ${h.cpus} × ${h.cpuModel}, ${h.memoryGiB} GiB, ${h.platform}, Node ${h.node}; load ` +
      `average at start ${h.loadAverageAtStart.join(' / ')}. Run ${report.startedAt} → ${report.finishedAt}. ` +
      `Options: N=${report.options.messages.toLocaleString('en-US')}${report.options.quick ? ' (quick)' : ''}, ` +
      `sizes ${report.options.sizes.map(sizeLabel).join(', ')}, guard ${report.options.maxSeconds} s per phase` +
      `${report.options.native ? '' : ', no native tools'}.`,
    '',
  );
  for (const m of report.merged ?? []) {
    out.push(
      `Merged for display (\`--merge\`): ${m.engines.join(', ')} from \`${m.file}\`, an earlier run ` +
        `(${m.startedAt} → ${m.finishedAt}, N=${m.messages.toLocaleString('en-US')}); the "run" column ` +
        `says which run each row comes from. This run's own JSON holds only its own engines.`,
      '',
    );
  }
  if (goal.total)
    out.push(`Goal (ours ≥ ${GOAL_RATIO * 100}% of native) met in ${goal.met} of ${goal.total} phases.`, '');
  out.push('## Summary (msg/s)', '', summaryTable(report), '', '![seed chart](seed.svg)', '');
  const notes = [...(report.notes ?? []), preamble].map((n) => n.trim()).filter(Boolean);
  if (notes.length) {
    out.push('## Notes', '');
    for (const n of notes) out.push(n, '');
  }
  for (const e of report.engines) out.push(engineSection(e));
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

// ---------------------------------------------------------------------------------------------
// SVG

const ENGINE_COLORS: Record<string, string> = {
  redis: '#d62728',
  rabbitmq: '#ff7f0e',
  kafka: '#1f77b4',
  activemq: '#2ca02c',
  'activemq (durable)': '#2ca02c',
  'activemq (non-durable)': '#98df8a',
  rocketmq: '#9467bd',
  zeromq: '#8c564b',
};
const FALLBACK_COLORS = ['#17becf', '#bcbd22', '#e377c2', '#7f7f7f'];

export interface ChartSeries {
  label: string;
  color: string;
  /** Lighter (native) or hatched (2013) bars. */
  style: 'solid' | 'light' | 'historical';
  /** size → msg/s */
  values: Map<number, number>;
}

/** The series of one phase's chart: ours and native per engine, then the 2013 figures. */
export function chartSeries(report: BenchReport, phase: BenchPhase): ChartSeries[] {
  const out: ChartSeries[] = [];
  let fallback = 0;
  for (const e of report.engines) {
    const label = engineLabel(e);
    const color = ENGINE_COLORS[label] ?? FALLBACK_COLORS[fallback++ % FALLBACK_COLORS.length] ?? '#777777';
    const ours = new Map<number, number>();
    const nat = new Map<number, number>();
    for (const s of e.sizes) {
      if (s.ours[phase].rate > 0) ours.set(s.messageBytes, s.ours[phase].rate);
      const r = s.native?.[phase].rate;
      if (r && r > 0) nat.set(s.messageBytes, r);
    }
    out.push({ label: `${label} ours`, color, style: 'solid', values: ours });
    if (nat.size) out.push({ label: `${label} native`, color, style: 'light', values: nat });
  }
  for (const [engine, byPhase] of Object.entries(HISTORICAL_2013)) {
    const values = new Map<number, number>();
    for (const size of report.options.sizes) {
      const v = byPhase[phase][size];
      if (v) values.set(size, v);
    }
    if (values.size) {
      out.push({
        label: `${engine} 2013`,
        color: engine === 'redis' ? '#555555' : '#aaaaaa',
        style: 'historical',
        values,
      });
    }
  }
  return out;
}

/** The decades [10^lo, 10^hi] that hold every value (at least one decade). */
export function logRange(values: number[]): { lo: number; hi: number } {
  const pos = values.filter((v) => v > 0);
  if (!pos.length) return { lo: 0, hi: 1 };
  const lo = Math.floor(Math.log10(Math.min(...pos)));
  let hi = Math.ceil(Math.log10(Math.max(...pos)));
  if (hi <= lo) hi = lo + 1;
  return { lo, hi };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function decadeLabel(e: number): string {
  const v = 10 ** e;
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return String(v);
}

/** A grouped bar chart: one panel per phase, one group per size, one bar per series; log y. */
export function renderSvg(report: BenchReport): string {
  const phases: BenchPhase[] = ['enqueue', 'dequeue'];
  const sizes = report.options.sizes;
  const seriesByPhase = phases.map((p) => chartSeries(report, p));
  const all = seriesByPhase.flatMap((ss) => ss.flatMap((s) => [...s.values.values()]));
  const { lo, hi } = logRange(all);
  const legendItems = seriesByPhase[0] ?? [];
  const width = 980;
  const left = 70;
  const right = 20;
  const panelH = 300;
  const legendRows = Math.ceil(legendItems.length / 4);
  const top = 50 + legendRows * 20;
  const gap = 70;
  const height = top + phases.length * (panelH + gap);
  const plotW = width - left - right;
  const y = (v: number, y0: number) => y0 + panelH - ((Math.log10(v) - lo) / (hi - lo)) * panelH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    '<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2"/></pattern></defs>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${esc(
      `mqop bench seed ${report.startedAt.slice(0, 10)}: messages per second (log scale)`,
    )}</text>`,
  );
  legendItems.forEach((s, i) => {
    const lx = left + (i % 4) * 220;
    const ly = 40 + Math.floor(i / 4) * 20;
    parts.push(barRect(lx, ly - 10, 14, 12, s));
    parts.push(`<text x="${lx + 20}" y="${ly}">${esc(s.label)}</text>`);
  });
  phases.forEach((phase, pi) => {
    const series = seriesByPhase[pi] ?? [];
    const y0 = top + pi * (panelH + gap) + 20;
    parts.push(`<text x="${left}" y="${y0 - 8}" font-size="14" font-weight="bold">${phase}</text>`);
    for (let e = lo; e <= hi; e++) {
      const yy = y(10 ** e, y0);
      parts.push(
        `<line x1="${left}" y1="${yy.toFixed(1)}" x2="${width - right}" y2="${yy.toFixed(1)}" stroke="#dddddd"/>`,
        `<text x="${left - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end" fill="#555555">${decadeLabel(e)}</text>`,
      );
    }
    parts.push(
      `<line x1="${left}" y1="${y0}" x2="${left}" y2="${y0 + panelH}" stroke="#333333"/>`,
      `<line x1="${left}" y1="${y0 + panelH}" x2="${width - right}" y2="${y0 + panelH}" stroke="#333333"/>`,
    );
    const groupW = plotW / Math.max(1, sizes.length);
    const barW = Math.max(3, Math.min(28, (groupW * 0.8) / Math.max(1, series.length)));
    sizes.forEach((size, gi) => {
      const gx = left + gi * groupW + (groupW - barW * series.length) / 2;
      series.forEach((s, si) => {
        const v = s.values.get(size);
        if (!v) return;
        const yy = y(Math.max(v, 10 ** lo), y0);
        const h = y0 + panelH - yy;
        parts.push(
          barRect(
            gx + si * barW,
            yy,
            barW - 2,
            h,
            s,
            `${s.label} ${sizeLabel(size)} ${phase}: ${fmtRate(v)} msg/s`,
          ),
        );
      });
      parts.push(
        `<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${y0 + panelH + 18}" text-anchor="middle">${esc(sizeLabel(size))}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function barRect(x: number, y: number, w: number, h: number, s: ChartSeries, title?: string): string {
  const attrs = `x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(0, w).toFixed(1)}" height="${Math.max(0, h).toFixed(1)}"`;
  const t = title ? `<title>${esc(title)}</title>` : '';
  if (s.style === 'solid') return `<rect ${attrs} fill="${s.color}">${t}</rect>`;
  if (s.style === 'light') {
    return `<rect ${attrs} fill="${s.color}" fill-opacity="0.35" stroke="${s.color}" stroke-width="1">${t}</rect>`;
  }
  return `<g><rect ${attrs} fill="${s.color}">${t}</rect><rect ${attrs} fill="url(#hatch)"/></g>`;
}

/**
 * What seed.md / seed.svg show with `--merge`: this run's engines, then the earlier run's
 * engines that this run did not measure (by engine name), each marked with the run it comes
 * from (`run`). Engines the earlier report had merged in keep their own run. Pure.
 */
export function mergeReports(current: BenchReport, earlier: BenchReport, earlierFile: string): BenchReport {
  const have = new Set(current.engines.map((e) => e.engine));
  const file = basename(earlierFile);
  const taken = earlier.engines
    .filter((e) => !have.has(e.engine))
    .map((e) => ({
      ...e,
      run: e.run ?? {
        startedAt: earlier.startedAt,
        file,
        loadAverageAtStart: earlier.host.loadAverageAtStart,
      },
    }));
  const merged = [...(current.merged ?? [])];
  const fromEarlier = taken.filter((e) => e.run.file === file);
  if (fromEarlier.length) {
    merged.push({
      file,
      startedAt: earlier.startedAt,
      finishedAt: earlier.finishedAt,
      engines: [...new Set(fromEarlier.map((e) => e.engine))],
      messages: earlier.options.messages,
    });
  }
  for (const m of earlier.merged ?? []) {
    if (taken.some((e) => e.run.file === m.file) && !merged.some((x) => x.file === m.file)) merged.push(m);
  }
  const notes = [...current.notes];
  if (fromEarlier.length && earlier.notes.length) {
    notes.push(
      `**Notes of the earlier run \`${file}\`** (${[...new Set(fromEarlier.map((e) => e.engine))].join(', ')}):`,
    );
    notes.push(...earlier.notes);
  }
  const engines = [...current.engines, ...taken].sort((a, b) => engineRank(a.engine) - engineRank(b.engine));
  return { ...current, notes, engines, merged };
}

/** The seed's order of engines in a merged report (others after them). */
const ENGINE_ORDER = ['redis', 'rabbitmq', 'kafka', 'activemq', 'rocketmq', 'zeromq'];

function engineRank(engine: string): number {
  const i = ENGINE_ORDER.indexOf(engine);
  return i < 0 ? ENGINE_ORDER.length : i;
}

/** When an engine's figures were measured: its own run's start (merged) or the report's. */
export function engineRunStart(report: BenchReport, e: EngineResult): string {
  return e.run?.startedAt ?? report.startedAt;
}

/**
 * Writes seed-<date>.json (this run's raw results: `report`), seed.md and seed.svg (`shown`:
 * the same, or with earlier runs' engines merged in) into `dir`; returns their paths.
 */
export function writeResults(
  report: BenchReport,
  dir: string,
  preamble = '',
  shown: BenchReport = report,
): { json: string; md: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const names = resultFileNames(report, (n) => existsSync(join(dir, n)));
  const paths = { json: join(dir, names.json), md: join(dir, names.md), svg: join(dir, names.svg) };
  writeFileSync(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(paths.md, renderMarkdown(shown, preamble));
  writeFileSync(paths.svg, renderSvg(shown));
  return paths;
}
