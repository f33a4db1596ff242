/**
 * A run's identity and options: the run id, the name of the run's own queue/stream/topic
 * (`mqop-smoke-<runId>`, the only thing a smoke run ever creates or deletes) and option checks.
 */
import { randomBytes } from 'node:crypto';
import type { SmokeOptions } from '../types.ts';
import { SmokeError } from './errors.ts';

/** Prefix of every queue/stream/topic a smoke run creates; nothing else is ever touched. */
export const SMOKE_PREFIX = 'mqop-smoke-';

/** A random run id: 12 lowercase hex characters (valid in every engine's queue/topic names). */
export function newRunId(): string {
  return randomBytes(6).toString('hex');
}

/** The run id to use and the name of the run's own queue/stream/topic. */
export function runName(runId?: string): { runId: string; name: string } {
  const id = runId ?? newRunId();
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) {
    throw new SmokeError('protocol', 'runId must be 1-100 characters of A-Z a-z 0-9 . _ -');
  }
  return { runId: id, name: `${SMOKE_PREFIX}${id}` };
}

/** Checks options; throws a SmokeError('protocol') naming the bad one. */
export function validateOptions(o: SmokeOptions): void {
  if (!Number.isInteger(o.messages) || o.messages < 1) {
    throw new SmokeError('protocol', 'messages must be an integer >= 1');
  }
  if (!Number.isInteger(o.messageBytes) || o.messageBytes < 0) {
    throw new SmokeError('protocol', 'messageBytes must be an integer >= 0');
  }
  if (!(o.timeoutSeconds > 0)) throw new SmokeError('protocol', 'timeoutSeconds must be > 0');
}
