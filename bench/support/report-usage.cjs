// Peak RSS of a whole process, for the benchmarks: preloaded with
// `node --require bench/support/report-usage.cjs ...` (a CommonJS preload, so
// a process that would not start the ES module loader is not made to), it
// writes process.resourceUsage().maxRSS (KiB, getrusage's ru_maxrss) to the
// file $BATON_BENCH_USAGE_FILE when the process exits normally (an ended
// event loop, process.exit() or process.exitCode alike). Nothing beyond
// Node itself: /usr/bin/time is not on every CI image.
'use strict';
const file = process.env.BATON_BENCH_USAGE_FILE;
if (file) {
  const { writeFileSync } = require('node:fs');
  process.on('exit', () => {
    writeFileSync(file, String(process.resourceUsage().maxRSS));
  });
}
