/**
 * `ferrolog verify [--repair]`: the engine's own recovery, run over the
 * whole data directory with every batch CRC-checked. Read-only it reports
 * what recovery would do (and takes no lock, so it works beside a running
 * application); --repair applies it. One native call, off the JavaScript
 * thread.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Log } from '../../log';
import { parse, UsageError } from '../args';
import { dataDir } from '../target';
import type { Command } from './command';

export const HELP = `usage: ferrolog verify [--repair]

runs the engine's recovery over every partition of the data directory, with every
batch's framing, CRC-32C and offsets checked, and reports what is wrong and where, and
what recovery would do about it. Exit code 0 only when everything is sound. --repair
applies the recovery (it needs the directory lock): cut at the first bad batch, set
later segments aside in .quarantine (nothing is deleted), rebuild indexes.

example:
  ferrolog verify --data-dir /var/lib/app/ferrolog`;

/** Findings that are notes, not damage: what recovery leaves alone or takes in. */
const NOTES = new Set(['ignored', 'adopted']);

export const verify: Command = {
  name: 'verify',
  help: HELP,
  async run(argv) {
    const { values } = parse(argv, { repair: { type: 'boolean' } });
    if (values.brokers !== undefined) throw new UsageError('verify checks a data directory, not --brokers');
    const dir = resolve(dataDir(values));
    if (!existsSync(dir)) throw new UsageError(`no data directory at ${dir}`);
    const repair = values.repair === true;
    const result = await Log.verify(dir, { repair });
    let problems = 0;
    for (const f of result.findings) {
      const where = f.topic === '' ? f.path : `${f.topic}-${f.partition}`;
      const moved = f.movedTo ? `; set aside in ${f.movedTo}` : '';
      if (f.applied) {
        process.stdout.write(`${f.action} ${where} at offset ${f.offset}: ${f.reason}${moved}\n`);
      } else if (NOTES.has(f.action)) {
        process.stdout.write(`note: ${where}: ${f.reason} (recovery: ${f.action})\n`);
      } else {
        problems++;
        process.stdout.write(
          `PROBLEM ${f.path} (${where}) at offset ${f.offset}: ${f.reason}; recovery would: ${f.action}\n`,
        );
      }
    }
    if (repair && result.findings.length === 0) process.stdout.write('repair: nothing to repair\n');
    let bytes = 0;
    for (const p of result.partitions) {
      bytes += p.bytes;
      for (const what of p.problems) {
        problems++;
        process.stdout.write(`PROBLEM ${p.topic}-${p.partition}: ${what}\n`);
      }
    }
    process.stdout.write(
      `verified ${result.partitions.length} partition(s), ${bytes} bytes: ` +
        `${problems === 0 ? 'all sound' : `${problems} problem(s)${repair ? '' : '; run with --repair to apply recovery'}`}\n`,
    );
    if (problems > 0) process.exitCode = 1;
  },
};
