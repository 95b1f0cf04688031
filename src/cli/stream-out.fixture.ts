/** A sink that keeps what is written, for tests of streamed output. */
import type { Sink } from './stream-out.js';

export function memorySink(): Sink & { text: () => string } {
  const parts: string[] = [];
  return {
    write: async (t: string) => void parts.push(t),
    text: () => parts.join(''),
  };
}
