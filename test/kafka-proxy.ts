/**
 * A TCP proxy in front of Kafka brokers (Apache Kafka's or ferrolog's) that
 * can lose a Produce response: it forwards the request, waits for the
 * broker's answer (so the write happened), and then closes the client's
 * connection instead of passing the answer on. That is a genuinely lost
 * acknowledgement, which an idempotent producer must survive by retrying
 * with the same sequence and the broker by not writing the batch twice.
 *
 * Clients learn broker addresses from Metadata responses, so the proxy
 * rewrites every broker's host and port in them to a listener of its own
 * (one per broker): the client never bypasses it. Everything else passes
 * through byte for byte.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

const PRODUCE = 0;
const METADATA = 3;
/** Metadata is a flexible version (compact strings, tagged fields) from v9. */
const METADATA_FLEXIBLE = 9;

export interface LossyProxy {
  /** The bootstrap address to give the client. */
  bootstrap: string;
  /** Produce responses withheld so far (each with its connection closed). */
  readonly dropped: number;
  /** Withhold the answer to the next `n` Produce requests. */
  dropNextProduceResponses(n: number): void;
  close(): Promise<void>;
}

/** Splits a byte stream into Kafka frames (4-byte size, then the frame). */
class Framer {
  private pending: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    while (this.pending.length >= 4) {
      const size = this.pending.readInt32BE(0);
      if (size < 0 || size > 64 * 1024 * 1024) throw new Error(`proxy: bad frame size ${size}`);
      if (this.pending.length < 4 + size) break;
      out.push(this.pending.subarray(0, 4 + size));
      this.pending = this.pending.subarray(4 + size);
    }
    return out;
  }
}

function readUvarint(b: Buffer, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = b.readUInt8(pos++);
    value |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [value >>> 0, pos];
    shift += 7;
    if (shift > 28) throw new Error('proxy: varint too long');
  }
}

function writeUvarint(value: number): Buffer {
  const out: number[] = [];
  let v = value >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

function skipTaggedFields(b: Buffer, start: number): number {
  let [count, pos] = readUvarint(b, start);
  for (; count > 0; count--) {
    [, pos] = readUvarint(b, pos);
    let size: number;
    [size, pos] = readUvarint(b, pos);
    pos += size;
  }
  return pos;
}

/** Reads a (compact when flexible) string, returning the position after it. */
function skipString(b: Buffer, pos: number, flexible: boolean): number {
  if (flexible) {
    const [n, at] = readUvarint(b, pos);
    return at + Math.max(0, n - 1);
  }
  const n = b.readInt16BE(pos);
  return pos + 2 + Math.max(0, n);
}

function encodeString(s: string, flexible: boolean): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  if (flexible) return Buffer.concat([writeUvarint(bytes.length + 1), bytes]);
  const len = Buffer.alloc(2);
  len.writeInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/**
 * A Metadata response (the frame without its size) with each broker's
 * address replaced by `route(host, port)`.
 */
function rewriteMetadata(
  frame: Buffer,
  version: number,
  route: (host: string, port: number) => { host: string; port: number },
): Buffer {
  const flexible = version >= METADATA_FLEXIBLE;
  let pos = 4; // correlation id
  if (flexible) pos = skipTaggedFields(frame, pos);
  if (version >= 3) pos += 4; // throttle_time_ms
  let count: number;
  if (flexible) {
    [count, pos] = readUvarint(frame, pos);
    count -= 1;
  } else {
    count = frame.readInt32BE(pos);
    pos += 4;
  }
  const parts: Buffer[] = [frame.subarray(0, pos)];
  for (let i = 0; i < count; i++) {
    const nodeId = frame.subarray(pos, pos + 4);
    pos += 4;
    const hostEnd = skipString(frame, pos, flexible);
    const hostStart = flexible ? readUvarint(frame, pos)[1] : pos + 2;
    const host = frame.toString('utf8', hostStart, hostEnd);
    pos = hostEnd;
    const port = frame.readInt32BE(pos);
    pos += 4;
    const restStart = pos;
    if (version >= 1) pos = skipString(frame, pos, flexible); // rack (nullable)
    if (flexible) pos = skipTaggedFields(frame, pos);
    const to = route(host, port);
    const portBytes = Buffer.alloc(4);
    portBytes.writeInt32BE(to.port);
    parts.push(nodeId, encodeString(to.host, flexible), portBytes, frame.subarray(restStart, pos));
  }
  parts.push(frame.subarray(pos));
  return Buffer.concat(parts);
}

function withSize(frame: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(frame.length);
  return Buffer.concat([size, frame]);
}

export async function startLossyProxy(bootstrap: string): Promise<LossyProxy> {
  const servers = new Map<string, { server: Server; port: number }>();
  const sockets = new Set<Socket>();
  let toDrop = 0;
  let dropped = 0;

  const listen = async (upstream: string): Promise<number> => {
    const known = servers.get(upstream);
    if (known !== undefined) return known.port;
    const [host, portText] = upstream.split(/:(?=\d+$)/) as [string, string];
    const server = createServer((client) => serve(client, host, Number(portText)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy: no port');
    servers.set(upstream, { server, port: address.port });
    return address.port;
  };

  // Listeners for brokers named in Metadata are opened before the rewritten
  // answer is passed on, so a client never sees a port nobody listens on.
  const route = (host: string, port: number) => {
    const known = servers.get(`${host}:${port}`);
    if (known === undefined) throw new Error(`proxy: no listener for ${host}:${port}`);
    return { host: '127.0.0.1', port: known.port };
  };

  function serve(client: Socket, host: string, port: number): void {
    const upstream = tcpConnect({ host, port });
    sockets.add(client);
    sockets.add(upstream);
    const requests = new Map<number, { apiKey: number; apiVersion: number; drop: boolean }>();
    const fromClient = new Framer();
    const fromBroker = new Framer();
    let chain: Promise<void> = Promise.resolve();
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => {
      let frames: Buffer[];
      try {
        frames = fromClient.push(chunk);
      } catch {
        closeBoth();
        return;
      }
      for (const frame of frames) {
        const apiKey = frame.readInt16BE(4);
        const apiVersion = frame.readInt16BE(6);
        const correlationId = frame.readInt32BE(8);
        let drop = false;
        if (apiKey === PRODUCE && toDrop > 0) {
          toDrop--;
          drop = true;
        }
        requests.set(correlationId, { apiKey, apiVersion, drop });
        upstream.write(frame);
      }
    });
    upstream.on('data', (chunk) => {
      let frames: Buffer[];
      try {
        frames = fromBroker.push(chunk);
      } catch {
        closeBoth();
        return;
      }
      for (const sized of frames) {
        const frame = sized.subarray(4);
        const request = requests.get(frame.readInt32BE(0));
        requests.delete(frame.readInt32BE(0));
        chain = chain.then(async () => {
          if (client.destroyed) return;
          if (request?.drop === true) {
            // The broker has answered, so the write is done: the answer is lost.
            dropped++;
            closeBoth();
            return;
          }
          if (request?.apiKey === METADATA) {
            const seen: string[] = [];
            rewriteMetadata(frame, request.apiVersion, (h, p) => {
              seen.push(`${h}:${p}`);
              return { host: h, port: p };
            });
            for (const address of seen) await listen(address);
            client.write(withSize(rewriteMetadata(frame, request.apiVersion, route)));
            return;
          }
          client.write(sized);
        });
        // A response the proxy cannot parse ends the connection, as a broken broker would.
        chain = chain.catch(closeBoth);
      }
    });
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
  }

  const first = bootstrap.split(',')[0] as string;
  const port = await listen(first);
  return {
    bootstrap: `127.0.0.1:${port}`,
    get dropped() {
      return dropped;
    },
    dropNextProduceResponses(n: number) {
      toDrop += n;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(
        [...servers.values()].map(
          ({ server }) => new Promise<void>((resolve) => server.close(() => resolve())),
        ),
      );
    },
  };
}
