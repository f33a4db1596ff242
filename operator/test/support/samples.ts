/** Sample values shared by unit tests. */
import type { SmokeTestStatus } from '../../src/api/types.ts';

/** A passed smoke test as the status step writes it. */
export const PASSED_SMOKE: SmokeTestStatus = {
  lastRunTime: '2026-01-01T00:00:00Z',
  result: 'Passed',
  produced: 10,
  consumed: 10,
  lost: 0,
  duplicated: 0,
  outOfOrder: 0,
  p50Millis: 1,
  p99Millis: 2,
  consecutiveFailures: 0,
  message: '',
};
