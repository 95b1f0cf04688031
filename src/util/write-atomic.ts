import { chmod, rename, writeFile } from 'node:fs/promises';

/** a file written whole or not at all: a crash mid-write leaves the old one (or none), never half */
export async function writeAtomic(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}
