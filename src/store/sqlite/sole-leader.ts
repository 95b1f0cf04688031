/**
 * On SQLite there is one server: it leads from its start, and nothing else
 * can commit to its file, so there is nothing to fence.
 */
import type { LeaderLease, LeaseState, ServerPresence } from '../backend.js';

export function soleLeader(): LeaderLease {
  let me: Omit<ServerPresence, 'seenAt'> | undefined;
  let state: LeaseState | undefined;
  return {
    async claim(serverId) {
      state ??= { holder: serverId, epoch: 1, since: Date.now(), expiresAt: Number.MAX_SAFE_INTEGER, now: Date.now() };
      return { ...state, now: Date.now() };
    },
    async release() {
      state = undefined;
    },
    async fence() {},
    async announce(s) {
      me = s;
    },
    async servers() {
      return me ? [{ ...me, seenAt: Date.now() }] : [];
    },
    async current() {
      return state;
    },
  };
}
