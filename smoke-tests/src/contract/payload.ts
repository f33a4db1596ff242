/**
 * The one smoke message payload, `mqop1`, that every engine sends and reads: run id, sequence
 * number and send time in an ASCII header, padded to the requested size.
 */

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across processes). */
export function nowMillis(): number {
  return performance.timeOrigin + performance.now();
}

const MAGIC = 'mqop1';
const PAD = 0x2e; // '.'

/** What a payload says about itself. */
export interface PayloadHeader {
  runId: string;
  seq: number;
  /** Send time, {@link nowMillis} clock. */
  sentAt: number;
}

/**
 * A message of `size` bytes: ASCII header `mqop1 <runId> <seq> <sentAt>\n` padded with dots. All
 * printable ASCII, so it travels as a string or as bytes alike. When `size` is smaller than the
 * header, the message is the header alone (about 40 bytes).
 */
export function encodePayload(runId: string, seq: number, size: number, sentAt = nowMillis()): Buffer {
  const header = `${MAGIC} ${runId} ${seq} ${sentAt.toFixed(3)}\n`;
  const len = Math.max(size, header.length);
  const buf = Buffer.allocUnsafe(len);
  buf.write(header, 0, 'latin1');
  buf.fill(PAD, header.length);
  return buf;
}

/** Reads a payload's header; undefined for anything that is not a smoke payload. */
export function decodePayload(data: Buffer | Uint8Array | string): PayloadHeader | undefined {
  let head: string;
  if (typeof data === 'string') {
    head = data.slice(0, 160);
  } else {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    head = b.toString('latin1', 0, Math.min(b.length, 160));
  }
  const nl = head.indexOf('\n');
  if (nl < 0) return undefined;
  const parts = head.slice(0, nl).split(' ');
  if (parts.length !== 4 || parts[0] !== MAGIC) return undefined;
  const seq = Number(parts[2]);
  const sentAt = Number(parts[3]);
  if (!Number.isSafeInteger(seq) || seq < 0 || !Number.isFinite(sentAt)) return undefined;
  return { runId: parts[1] as string, seq, sentAt };
}
