/** Runs a broker test-bed script (scripts/brokers/<engine>.sh) action; returns its stdout. */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const brokerScript = (engine: string): string =>
  join(dirname(fileURLToPath(import.meta.url)), `../../scripts/brokers/${engine}.sh`);

export function testBed(script: string, action: string, timeout = 300_000, ...args: string[]): string {
  return execFileSync('bash', [script, action, ...args], {
    encoding: 'utf8',
    timeout,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}
