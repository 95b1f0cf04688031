/** The zod schemas of secret names, keys and the PUT body, for the server and the job file. */
import { z } from 'zod';
import { MAX_SECRET_KEYS, MAX_SECRET_VALUE, SECRET_KEY_HINT, SECRET_KEY_RE, SECRET_NAME_HINT, SECRET_NAME_RE } from './names.js';

export const secretNameSchema = z.string({ error: 'a secret name must be a text' }).regex(SECRET_NAME_RE, { error: SECRET_NAME_HINT });
export const secretKeySchema = z.string({ error: 'a secret key must be a text' }).regex(SECRET_KEY_RE, { error: SECRET_KEY_HINT });

/** PUT /v1/secrets/:namespace/:name */
export const putSecretSchema = z.strictObject({
  data: z
    // keys checked below: a record's key schema reports only "Invalid key in record"
    .record(
      z.string(),
      z.string({ error: 'a secret value must be a text' }).max(MAX_SECRET_VALUE, { error: `a secret value is at most ${MAX_SECRET_VALUE} bytes` }),
    )
    .superRefine((d, ctx) => {
      for (const k of Object.keys(d)) if (!SECRET_KEY_RE.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `"${k}": ${SECRET_KEY_HINT}` });
    })
    .refine((d) => Object.keys(d).length > 0, { error: 'data needs at least one key' })
    .refine((d) => Object.keys(d).length <= MAX_SECRET_KEYS, { error: `a secret has at most ${MAX_SECRET_KEYS} keys` }),
});
