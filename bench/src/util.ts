/** Small shared pieces of the benchmark. */

/**
 * The benchmark's message: `size` bytes, a short ASCII marker then dots. The same buffer is sent
 * for every message (as the native tools do); clients never modify it.
 */
export function benchPayload(size: number): Buffer {
  const buf = Buffer.alloc(Math.max(0, size), 0x2e);
  buf.write('mqop-bench\n'.slice(0, size), 0, 'latin1');
  return buf;
}

/** A URL with any password replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
}

/** A random id of 8 lowercase hex characters. */
export function shortId(): string {
  return crypto.randomUUID().replace(/-/g, '').slice(0, 8);
}
