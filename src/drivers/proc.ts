/**
 * Small helpers over /proc and signals shared by the drivers: identify a
 * process by pid plus start time (pids are reused), find commands on PATH,
 * and translate between exit codes and signal names.
 */
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { readSmallFile } from './small-file.js';

export interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  utime: number;
  stime: number;
  /** cpu of children it waited for: how the time of a task that exited stays counted */
  cutime: number;
  cstime: number;
  /** field 22: clock ticks after boot; with the pid it identifies one process */
  startTime: string;
}

export function readProcStat(pid: number): ProcStat | undefined {
  const text = readSmallFile(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // comm (field 2) may contain spaces and parens: fields after the last ')' start at field 3
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    state: rest[0],
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    utime: Number(rest[11]),
    stime: Number(rest[12]),
    cutime: Number(rest[13]),
    cstime: Number(rest[14]),
    startTime: rest[19],
  };
}

/** Alive and the same process we started (not a zombie, not a reused pid). */
export function processAlive(pid: number, startTime?: string): boolean {
  // no signal probe first: /proc/<pid>/stat exists exactly while the process does (a zombie too, told by its state)
  const st = readProcStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

export function readCmdline(pid: number): string[] {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `command` (as a shell would resolve it), or undefined. */
export function findCommand(command: string, pathEnv: string, cwd: string): string | undefined {
  if (command.includes('/')) {
    const p = isAbsolute(command) ? command : resolve(cwd, command);
    return isExecutableFile(p) ? p : undefined;
  }
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, command);
    if (isExecutableFile(p)) return p;
  }
  return undefined;
}

export function signalName(n: number): string | undefined {
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name;
  return undefined;
}

export function signalNumber(name: string): number | undefined {
  const key = (name.startsWith('SIG') ? name : `SIG${name}`).toUpperCase();
  return (osConstants.signals as Record<string, number>)[key];
}

/** Normalises `TERM`, `sigterm`, `15` to `SIGTERM`; unknown names fall back to SIGTERM. */
export function normaliseSignal(sig: string | undefined, fallback = 'SIGTERM'): NodeJS.Signals {
  if (!sig) return fallback as NodeJS.Signals;
  if (/^\d+$/.test(sig)) return (signalName(Number(sig)) ?? fallback) as NodeJS.Signals;
  const key = (sig.startsWith('SIG') || sig.startsWith('sig') ? sig : `SIG${sig}`).toUpperCase();
  return (key in osConstants.signals ? key : fallback) as NodeJS.Signals;
}

/** Exit codes above 128 mean "killed by signal code-128" by shell and Docker convention. */
export function signalOfExitCode(code: number): string | undefined {
  return code > 128 && code < 128 + 65 ? signalName(code - 128) : undefined;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
