/**
 * Stands in for the client's Node-only modules (its http/https transport and
 * the CA pinning) in the browser build: the UI hands the client the
 * browser's fetch, so these are never called, and Node's modules stay out of
 * the bundle.
 */
function nodeOnly(): never {
  throw new Error('this part of the baton client runs on Node only; the web UI uses the browser fetch transport');
}

export class Transport {
  constructor() {
    nodeOnly();
  }
}

export const fetchPinnedCaFrom = nodeOnly;
