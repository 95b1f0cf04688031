/**
 * What a secret's name and keys may be: they become directory and file names
 * on the agent. No zod here: the CLI checks names with these before it loads
 * anything heavy (the schemas are in secret-schemas.ts).
 */
export const SECRET_NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
export const SECRET_KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const MAX_SECRET_VALUE = 64 * 1024;
export const MAX_SECRET_KEYS = 64;

export const SECRET_NAME_HINT = 'a secret name is lowercase letters, digits, "-", "_" and ".", starting with a letter or digit, at most 63 characters';
export const SECRET_KEY_HINT =
  'a secret key is letters, digits, "-", "_" and ".", starting with a letter, digit or "_", at most 128 characters (it becomes a file name)';
