/**
 * The address a serving process listens on, recorded next to the data
 * directory's lock, so that `ferrolog` commands run against a directory
 * another process holds go through that process's broker instead of
 * failing. The file is `<dataDir>/.listen` (hidden names are not topics):
 * one JSON line `{"pid":N,"host":H,"port":P}`. It is written once the
 * broker listens and removed when it closes; a reader trusts it only while
 * that pid is alive and is the pid the lock file names (`.lock` says
 * `pid N`), so a file left by a killed process is ignored.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LISTENER_FILE = '.listen';

export interface RecordedListener {
  pid: number;
  host: string;
  port: number;
}

/** Records the broker's address; returns the function that removes it again. Never throws. */
export function recordListener(dataDir: string, address: { host: string; port: number }): () => void {
  const path = join(dataDir, LISTENER_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const mine = { pid: process.pid, host: address.host, port: address.port };
  try {
    // Written whole, then renamed: a reader never sees half a line.
    writeFileSync(tmp, `${JSON.stringify(mine)}\n`);
    renameSync(tmp, path);
  } catch {
    // A read-only or full disk only costs the automatic routing.
    rmSync(tmp, { force: true });
    return () => {};
  }
  return () => {
    try {
      // Another broker of this process may have replaced it: remove only our own.
      const now = JSON.parse(readFileSync(path, 'utf8')) as RecordedListener;
      if (now.pid === mine.pid && now.port === mine.port && now.host === mine.host)
        rmSync(path, { force: true });
    } catch {
      // Gone already.
    }
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The broker serving `dataDir` from another live process, if one recorded
 * itself and still holds the lock; undefined otherwise (stale files are ignored).
 */
export function servingListener(dataDir: string): RecordedListener | undefined {
  let rec: RecordedListener;
  let lock: string;
  try {
    rec = JSON.parse(readFileSync(join(dataDir, LISTENER_FILE), 'utf8')) as RecordedListener;
    lock = readFileSync(join(dataDir, '.lock'), 'utf8');
  } catch {
    return undefined;
  }
  if (
    typeof rec !== 'object' ||
    rec === null ||
    !Number.isSafeInteger(rec.pid) ||
    rec.pid <= 0 ||
    typeof rec.host !== 'string' ||
    !Number.isInteger(rec.port) ||
    rec.port <= 0 ||
    rec.port > 65535
  )
    return undefined;
  if (lock.trim() !== `pid ${rec.pid}` || rec.pid === process.pid || !alive(rec.pid)) return undefined;
  return rec;
}
