/**
 * `ferrolog dump`: a segment's batches as the engine's batch parser reads
 * them (one native call per chunk of about 4 MiB, off the JavaScript
 * thread), and with --records every record, decoded by the client codec.
 */
import { existsSync } from 'node:fs';
import { decodeMessages } from '../../codec';
import { Log } from '../../log';
import { parse, UsageError } from '../args';
import { encodeBytes, encodingOption, write } from '../output';
import type { Command } from './command';

export const HELP = `usage: ferrolog dump <segment.log> [--records] [--key-encoding utf8|base64|hex]
                    [--value-encoding utf8|base64|hex]

prints each batch: base and last offset, record count, size, position, CRC (valid or
not), compression, timestamps, producer; --records also prints every record (keys and
values as utf8 unless they are not UTF-8, then base64 and marked so, or as asked).
Exit code 1 when a batch is damaged.

example:
  ferrolog dump ferrolog-data/orders-0/00000000000000000000.log --records`;

const CHUNK_BYTES = 4 << 20;

export const dump: Command = {
  name: 'dump',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      records: { type: 'boolean' },
      'key-encoding': { type: 'string' },
      'value-encoding': { type: 'string' },
    });
    const path = positionals[0];
    if (!path) throw new UsageError('dump needs a segment file (see ferrolog dump --help)');
    if (values.brokers !== undefined) throw new UsageError('dump reads a segment file, not --brokers');
    if (!existsSync(path)) throw new UsageError(`no such file: ${path}`);
    const enc = {
      key: encodingOption(values, 'key-encoding'),
      value: encodingOption(values, 'value-encoding'),
    };
    const records = values.records === true;
    const text = (b: Buffer | null, e: typeof enc.key) => {
      if (b === null) return 'null';
      const r = encodeBytes(b, e);
      return r.fellBack ? `base64:${r.text}` : r.text;
    };
    process.stdout.write(`dumping ${path}\n`);
    let bad = false;
    let position = 0;
    for (;;) {
      const chunk = await Log.dumpSegment(path, { position, maxBytes: CHUNK_BYTES, records });
      for (const b of chunk.batches) {
        if (!b.crcValid) bad = true;
        const flags = `${b.transactional ? ' transactional' : ''}${b.control ? ' control' : ''}`;
        const w = write(
          `baseOffset: ${b.baseOffset} lastOffset: ${b.lastOffset} count: ${b.recordCount} position: ${b.position} ` +
            `size: ${b.sizeBytes} ${b.logAppendTime ? 'LogAppendTime' : 'CreateTime'}: ${b.maxTimestamp} ` +
            `baseTimestamp: ${b.baseTimestamp} compression: ${b.compression} producerId: ${b.producerId} ` +
            `producerEpoch: ${b.producerEpoch} baseSequence: ${b.baseSequence} partitionLeaderEpoch: ` +
            `${b.partitionLeaderEpoch} crc: ${b.crc} isValid: ${b.crcValid}${flags}\n`,
        );
        if (w) await w;
        if (records && b.bytes) {
          for (const m of decodeMessages(b.bytes)) {
            const headers = Object.entries(m.headers)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(',');
            const wr = write(
              `| offset: ${m.offset} CreateTime: ${m.timestamp} keySize: ${m.key?.length ?? -1} ` +
                `valueSize: ${m.value?.length ?? -1} headers: ${headers} key: ${text(m.key, enc.key)} ` +
                `payload: ${text(m.value, enc.value)}\n`,
            );
            if (wr) await wr;
          }
        } else if (records && b.crcValid) {
          process.stdout.write(`| (a batch of ${b.sizeBytes} bytes is too large to print its records)\n`);
        }
      }
      if (chunk.stop === 'padding') {
        process.stdout.write(`position: ${chunk.nextPosition} preallocated zeros to the end of the file\n`);
        break;
      }
      if (chunk.stop != null) {
        process.stdout.write(`position: ${chunk.nextPosition} INVALID: ${chunk.stop}\n`);
        bad = true;
        break;
      }
      if (chunk.nextPosition >= chunk.fileSize || chunk.batches.length === 0) break;
      position = chunk.nextPosition;
    }
    if (bad) process.exitCode = 1;
  },
};
