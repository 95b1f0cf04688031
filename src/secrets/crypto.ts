/**
 * Secret values at rest: AES-256-GCM, a fresh random nonce per version, and
 * the namespace, name and version bound in as additional data, so a stored
 * blob copied onto another secret's row (or an older version) fails to open
 * instead of handing one secret's value out as another's.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** "v1." prefix: the format of the blob, so a later scheme can tell old rows apart */
const PREFIX = 'v1.';

export class SecretKeyError extends Error {}

export interface SecretRef {
  namespace: string;
  name: string;
  version: number;
}

const aad = (ref: SecretRef): Buffer => Buffer.from(`baton-secret\0${ref.namespace}\0${ref.name}\0${ref.version}`, 'utf8');

/** base64 "v1." + nonce | ciphertext | tag of the JSON of data */
export function sealSecret(key: Buffer, ref: SecretRef, data: Record<string, string>): string {
  if (key.length !== KEY_BYTES) throw new SecretKeyError(`the secrets key must be ${KEY_BYTES} bytes, got ${key.length}`);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad(ref));
  const body = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

/** the data sealed for exactly this ref; throws SecretKeyError when the key is wrong or the blob was changed */
export function openSecret(key: Buffer, ref: SecretRef, sealed: string): Record<string, string> {
  if (!sealed.startsWith(PREFIX)) throw new SecretKeyError(`secret ${ref.namespace}/${ref.name} v${ref.version}: unknown format`);
  const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
  if (raw.length < NONCE_BYTES + TAG_BYTES) throw new SecretKeyError(`secret ${ref.namespace}/${ref.name} v${ref.version}: stored value is truncated`);
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE_BYTES));
  decipher.setAAD(aad(ref));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    const plain = Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as Record<string, string>;
  } catch {
    throw new SecretKeyError(
      `secret ${ref.namespace}/${ref.name} v${ref.version} cannot be decrypted: the secrets key is not the one it was stored with, or the stored value was altered (see "Rotating the secrets key" in the README)`,
    );
  }
}
