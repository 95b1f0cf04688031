// What a Node process's memory is made of, seen from outside it, for
// bench/agent: preloaded with `node --require bench/support/report-memory.cjs`,
// it writes process.memoryUsage() and V8's heap statistics as JSON to
// $BATON_BENCH_MEMORY_FILE once a second (an unref'd timer: it never keeps
// the process alive; written to a temp file and renamed, so a reader never
// sees half of it). What it costs the process is a timer and a few hundred
// bytes a second; the benchmark preloads it into its baseline alike.
'use strict';
const file = process.env.BATON_BENCH_MEMORY_FILE;
if (file) {
  const { renameSync, writeFileSync } = require('node:fs');
  const v8 = require('node:v8');
  const write = () => {
    const h = v8.getHeapStatistics();
    /** @type {Record<string, number>} */
    const spaces = {};
    for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = s.space_used_size;
    const doc = {
      at: Date.now(),
      usage: process.memoryUsage(),
      heap: {
        total: h.total_heap_size,
        used: h.used_heap_size,
        external: h.external_memory,
        mallocedMemory: h.malloced_memory,
        peakMallocedMemory: h.peak_malloced_memory,
        spaces,
      },
    };
    writeFileSync(`${file}.tmp`, JSON.stringify(doc));
    renameSync(`${file}.tmp`, file);
  };
  setInterval(write, 1000).unref();
  write();
}
