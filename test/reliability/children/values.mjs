// Self-checking message values for the reliability suite: `id|payload|hash`,
// where hash is the first 16 hex digits of sha256(`id|payload`). A value that
// verifies is byte for byte what was sent; a wrong byte anywhere fails it.
import { createHash, randomBytes } from 'node:crypto';

export function makeValue(id, size = 16 + Math.floor(Math.random() * 200)) {
  const payload = randomBytes(Math.ceil(size / 2))
    .toString('hex')
    .slice(0, size);
  const body = `${id}|${payload}`;
  return `${body}|${createHash('sha256').update(body).digest('hex').slice(0, 16)}`;
}

/** The id of a value that verifies, or null. */
export function checkValue(value) {
  if (value === null || value === undefined) return null;
  const s = Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
  const cut = s.lastIndexOf('|');
  if (cut < 0) return null;
  const body = s.slice(0, cut);
  if (createHash('sha256').update(body).digest('hex').slice(0, 16) !== s.slice(cut + 1)) return null;
  const bar = body.indexOf('|');
  return bar < 0 ? null : body.slice(0, bar);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
