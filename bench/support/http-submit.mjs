// The floor under `baton run FILE` for bench/cli: a separate Node process
// that does only what the submit needs, with nothing but Node's own https
// module: read the job file, POST {source, filename} to /v1/jobs with the
// token, trusting the CA file, print the answer's first line, exit.
// Configured like the CLI: BATON_ADDR, BATON_TOKEN, BATON_CA_FILE.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { basename } from 'node:path';

const file = process.argv[2] ?? '';
const body = JSON.stringify({ source: readFileSync(file, 'utf8'), filename: basename(file) });
const url = new URL('/v1/jobs', process.env.BATON_ADDR);
const req = request(
  url,
  {
    method: 'POST',
    ca: readFileSync(process.env.BATON_CA_FILE ?? ''),
    headers: { authorization: `Bearer ${process.env.BATON_TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  },
  (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (text += d));
    res.on('end', () => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        process.stderr.write(`HTTP ${res.statusCode}: ${text}\n`);
        process.exitCode = 1;
        return;
      }
      // the answer of POST /v1/jobs (SubmitJobResponse); a bench helper reads the two fields it prints
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
      const { job } = /** @type {{ job: { id: string, version: number } }} */ (JSON.parse(text));
      process.stdout.write(`job ${job.id} version ${job.version} submitted\n`);
    });
  },
);
req.on('error', (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 1;
});
req.end(body);
