/**
 * read_committed's rule over fetched batches (ts/transport/aborted.ts), on
 * hand-made batches: what Kafka's aborted_transactions list drops, what it
 * keeps, and that the consumer still moves past dropped batches. The same
 * rule against a real Kafka and librdkafka is in remote-consume.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { decodeColumns } from '../ts/codec/decoder';
import { encodeBatch } from '../ts/codec/encoder';
import * as F from '../ts/codec/format';
import { dropAborted } from '../ts/transport/aborted';

const TXN = F.TRANSACTIONAL_MASK;
const CONTROL = F.CONTROL_MASK;

function at(baseOffset: number, b: Buffer): Buffer {
  // The base offset is outside the CRC: set as the log would.
  F.writeInt64(b, F.BASE_OFFSET, baseOffset);
  return b;
}

function data(offset: number, producerId: number, values: string[], transactional = true): Buffer {
  return at(
    offset,
    encodeBatch(
      values.map((value) => ({ value, timestamp: 0 })),
      { producerId, producerEpoch: 0, baseSequence: 0, attributes: transactional ? TXN : 0 },
    ),
  );
}

/** A transaction marker: key int16 version 0, int16 type (0 abort, 1 commit). */
function marker(offset: number, producerId: number, commit: boolean): Buffer {
  const key = Buffer.from([0, 0, 0, commit ? 1 : 0]);
  return at(
    offset,
    encodeBatch([{ key, value: Buffer.from([0, 0, 0, 0, 0, 0]), timestamp: 0 }], {
      producerId,
      producerEpoch: 0,
      baseSequence: -1,
      attributes: TXN | CONTROL,
    }),
  );
}

const read = (chunk: Buffer, from = 0) => {
  const c = decodeColumns(chunk, from);
  return {
    values: c.messages().map((m) => `${m.offset}:${String(m.value)}`),
    nextOffset: c.nextOffset,
  };
};

describe('dropAborted (read_committed)', () => {
  it("drops an aborted producer's batches from the transaction's first offset to its abort marker", () => {
    const chunk = Buffer.concat([
      data(0, 1, ['a0', 'a1']), // producer 1, aborted below
      data(2, 2, ['c2']), // producer 2, committed
      data(3, 1, ['a3']),
      marker(4, 1, false),
      marker(5, 2, true),
      data(6, 1, ['c6']), // producer 1's next transaction: not aborted
      data(7, 3, ['n7'], false), // not transactional
    ]);
    const before = Buffer.from(chunk);
    const out = dropAborted(chunk, [{ producerId: 1, firstOffset: 0 }]);
    expect(read(out)).toEqual({ values: ['2:c2', '6:c6', '7:n7'], nextOffset: 8 });
    // The fetched bytes are not written (they may be the network buffer).
    expect(chunk.equals(before)).toBe(true);
    // read_uncommitted, for contrast, sees every data record.
    expect(read(chunk).values).toEqual(['0:a0', '1:a1', '2:c2', '3:a3', '6:c6', '7:n7']);
  });

  it('moves the position past a fetch that holds nothing but aborted data', () => {
    const chunk = Buffer.concat([data(10, 5, ['x', 'y']), data(12, 5, ['z'])]);
    const out = dropAborted(chunk, [{ producerId: 5, firstOffset: 10 }]);
    expect(read(out, 10)).toEqual({ values: [], nextOffset: 13 });
  });

  it('keeps batches before an aborted transaction began, and of other producers', () => {
    const chunk = Buffer.concat([
      data(0, 7, ['before']),
      marker(1, 7, true),
      data(2, 7, ['gone']),
      data(3, 8, ['other']),
    ]);
    const out = dropAborted(chunk, [{ producerId: 7, firstOffset: 2 }]);
    expect(read(out).values).toEqual(['0:before', '3:other']);
  });

  it('returns the same bytes when nothing is aborted', () => {
    const chunk = Buffer.concat([data(0, 1, ['a']), marker(1, 1, true)]);
    expect(dropAborted(chunk, [])).toBe(chunk);
    // A transaction aborted past these batches drops none of them.
    expect(read(dropAborted(chunk, [{ producerId: 1, firstOffset: 50 }])).values).toEqual(['0:a']);
  });
});
