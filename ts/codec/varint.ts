/**
 * Zig-zag varints, as Kafka's records use them. Values up to 2^31 take the
 * bitwise fast path; larger ones (timestamp deltas) use exact float math,
 * which is safe to 2^53.
 */

/** Bytes needed for the zig-zag varint of `v` (a safe integer). */
export function varintSize(v: number): number {
  if (v >= -0x40000000 && v < 0x40000000) {
    const z = ((v << 1) ^ (v >> 31)) >>> 0;
    if (z < 0x80) return 1;
    if (z < 0x4000) return 2;
    if (z < 0x200000) return 3;
    if (z < 0x10000000) return 4;
    return 5;
  }
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    n++;
  }
  return n;
}

/** Writes the zig-zag varint of `v` at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  if (v >= -0x40000000 && v < 0x40000000) {
    let z = ((v << 1) ^ (v >> 31)) >>> 0;
    while (z >= 0x80) {
      buf[pos++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    buf[pos++] = z;
    return pos;
  }
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  while (z >= 128) {
    buf[pos++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[pos++] = z;
  return pos;
}

/**
 * Reads a zig-zag varint at `pos`. Returns the value and stores the next
 * position in `cursor[0]`; throws RangeError past `end` or after 10 bytes.
 */
export function readVarint(buf: Uint8Array, pos: number, end: number, cursor: Int32Array | number[]): number {
  let b = pos < end ? (buf[pos] as number) : -1;
  if (b < 0) throw new RangeError('varint runs past the end of the record');
  if (b < 0x80) {
    cursor[0] = pos + 1;
    return (b >>> 1) ^ -(b & 1);
  }
  let result = b & 0x7f;
  let shift = 7;
  let i = pos + 1;
  // Up to 28 bits with bitwise operations, the rest with float math.
  while (shift < 28) {
    b = i < end ? (buf[i++] as number) : -1;
    if (b < 0) throw new RangeError('varint runs past the end of the record');
    result |= (b & 0x7f) << shift;
    if (b < 0x80) {
      cursor[0] = i;
      return (result >>> 1) ^ -(result & 1);
    }
    shift += 7;
  }
  let big = result >>> 0;
  let mul = 2 ** 28;
  for (let n = 0; n < 6; n++) {
    b = i < end ? (buf[i++] as number) : -1;
    if (b < 0) throw new RangeError('varint runs past the end of the record');
    big += (b & 0x7f) * mul;
    if (b < 0x80) {
      cursor[0] = i;
      return big % 2 === 0 ? big / 2 : -(big + 1) / 2;
    }
    mul *= 128;
  }
  throw new RangeError('varint is too long');
}
