/**
 * JSON logs (pino). Secrets never reach a log: mqop never passes credentials to the logger, and as
 * a second line of defence any field named like a secret is redacted.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level = process.env.MQOP_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { app: 'mqop' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'password',
        '*.password',
        'credentials',
        '*.credentials',
        'data',
        '*.data',
        'stringData',
        '*.stringData',
      ],
      censor: '[redacted]',
    },
    formatters: { level: (label) => ({ level: label }) },
  });
}
