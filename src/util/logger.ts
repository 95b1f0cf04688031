/** One structured logger (pino, JSON lines on stderr) for server and agent. */
import { destination, pino, type Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function createLogger(level: string, name: string): Logger {
  return pino({ name, level }, destination({ dest: 2, sync: true }));
}
