/** What a secret's name and keys may be: they become directory and file names on the agent. */
import { z } from 'zod';

export const SECRET_NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
export const SECRET_KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const MAX_SECRET_VALUE = 64 * 1024;
export const MAX_SECRET_KEYS = 64;

export const SECRET_NAME_HINT = 'a secret name is lowercase letters, digits, "-", "_" and ".", starting with a letter or digit, at most 63 characters';
export const SECRET_KEY_HINT = 'a secret key is letters, digits, "-", "_" and ".", starting with a letter, digit or "_", at most 128 characters (it becomes a file name)';

export const secretNameSchema = z.string({ error: 'a secret name must be a text' }).regex(SECRET_NAME_RE, { error: SECRET_NAME_HINT });
export const secretKeySchema = z.string({ error: 'a secret key must be a text' }).regex(SECRET_KEY_RE, { error: SECRET_KEY_HINT });

/** PUT /v1/secrets/:namespace/:name */
export const putSecretSchema = z.strictObject({
  data: z
    // keys checked below: a record's key schema reports only "Invalid key in record"
    .record(z.string(), z.string({ error: 'a secret value must be a text' }).max(MAX_SECRET_VALUE, { error: `a secret value is at most ${MAX_SECRET_VALUE} bytes` }))
    .superRefine((d, ctx) => {
      for (const k of Object.keys(d)) if (!SECRET_KEY_RE.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `"${k}": ${SECRET_KEY_HINT}` });
    })
    .refine((d) => Object.keys(d).length > 0, { error: 'data needs at least one key' })
    .refine((d) => Object.keys(d).length <= MAX_SECRET_KEYS, { error: `a secret has at most ${MAX_SECRET_KEYS} keys` }),
});
