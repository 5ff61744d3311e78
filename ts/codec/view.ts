/**
 * The Buffer views the decoder hands out for keys, values and header values.
 *
 * Why not `Buffer.from(arrayBuffer, offset, length)` or `buf.subarray`: a
 * consumer makes one view per key and value, millions a second, and on
 * Node 20 those cost 54 and 60-70 ns each (argument checks, a native
 * `isAnyArrayBuffer` call, and for `subarray` the species lookup that ends
 * in the deprecated `Buffer()` function); `--cpu-prof` of an eachBatch loop
 * had Node's `FastBuffer` constructor, reached that way, as its largest
 * self-time item (~16%). A class of our own that extends Uint8Array and
 * inherits Buffer's methods is built like a plain Uint8Array (35 ns), with
 * the bounds already checked by the decoder.
 *
 * What a user sees is a Buffer: `Buffer.isBuffer` and `instanceof Buffer`
 * are true, `util.inspect` prints `<Buffer ..>`, `constructor` is `Buffer`
 * (so `slice`/`subarray`/`map` return ordinary Buffers, as on a Buffer, and
 * `v8.serialize` round-trips it as a Buffer), and every Buffer method works
 * (they are Buffer.prototype's own). The one difference: its prototype
 * object is not `Buffer.prototype` itself but inherits from it, so Node's
 * `assert.deepStrictEqual` / `util.isDeepStrictEqual` against a Buffer of
 * the same bytes fail (they compare prototypes); `assert.deepEqual`,
 * `buf.equals`, `Buffer.compare` and test runners' `toEqual` /
 * `toStrictEqual` (which compare `constructor`) do not. No faster way to
 * make an object whose prototype is Buffer.prototype exists in Node 20
 * (`Reflect.construct` with Buffer as new.target is 200 ns, setting the
 * prototype per object 110 ns). `structuredClone` gives a Uint8Array, as it
 * does for any Buffer.
 */

// Named `Buffer` so that stack traces and `constructor.name` of the class
// itself read as Buffer.
const ViewBuffer = class Buffer extends Uint8Array {};
Object.setPrototypeOf(ViewBuffer.prototype, globalThis.Buffer.prototype);
// Buffer.prototype.constructor is Buffer: the same for views, so species
// lookups (`slice`, `subarray`, `map`, `filter`) make ordinary Buffers and
// `x.constructor === Buffer` holds, as for any Buffer.
Object.defineProperty(ViewBuffer.prototype, 'constructor', {
  value: globalThis.Buffer,
  writable: true,
  enumerable: false,
  configurable: true,
});

/**
 * A Buffer over `length` bytes of `memory` from `byteOffset`, no copy. The
 * caller has checked the range (a range outside `memory` throws RangeError).
 */
export function bufferView(memory: ArrayBufferLike, byteOffset: number, length: number): Buffer {
  // The cast is for the typings only: a SharedArrayBuffer is as good here.
  return new ViewBuffer(memory as ArrayBuffer, byteOffset, length) as unknown as Buffer;
}
