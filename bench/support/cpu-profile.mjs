// A CPU profile of a whole process, for `bench/queue --profile-server DIR`:
// node refuses --cpu-prof in NODE_OPTIONS, but takes --import of this file.
// The profiler starts at once and the profile is written to
// $BATON_CPU_PROFILE_DIR/<pid>.cpuprofile when the process exits normally
// (the server exits normally on SIGTERM). Open it in Chrome DevTools or speedscope.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BATON_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // a session in the same thread answers synchronously
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
