import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const newId = (): string => randomUUID();
/** a bearer secret: 32 random bytes, url-safe */
export const newSecret = (prefix: string): string => `${prefix}_${randomBytes(32).toString('base64url')}`;
/** secrets are stored hashed so a copy of the database does not hand out access */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');
