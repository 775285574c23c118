import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** JSON logs on stdout (the container log); `level` from the caller's flag or env. */
export function createLogger(
  name: string,
  level = process.env.LOG_LEVEL ?? 'info',
  options: LoggerOptions = {},
): Logger {
  return pino({
    name,
    level,
    base: { component: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Tokens must never reach a log line, whatever object someone passes in.
    redact: { paths: ['token', '*.token', 'authorization', '*.authorization'], censor: '[redacted]' },
    ...options,
  });
}
