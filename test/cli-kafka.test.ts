/**
 * The CLI against a real Apache Kafka cluster (`--brokers`): topics,
 * produce, consume, groups describe with lag, and reset-offsets plan and
 * execute. Uses the run's shared cluster (or starts one when run alone).
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SharedKafka, useKafka } from './kafka/shared.mjs';

const bin = join(__dirname, '..', 'dist', 'cli', 'main.js');

let kafka: SharedKafka;
const run = `cli${process.pid}${Date.now().toString(36)}`;

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, [bin, ...args, '--brokers', kafka.bootstrap], {
    encoding: 'utf8',
    input,
    timeout: 120_000,
  });
}

function ok(args: string[], input?: string): string {
  const r = cli(args, input);
  expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe('ferrolog CLI against Apache Kafka (--brokers)', () => {
  beforeAll(async () => {
    kafka = await useKafka({ nodes: 1 });
  }, 300_000);
  afterAll(async () => {
    await kafka?.release();
  }, 120_000);

  it('manages topics, produces, consumes, describes lag and resets offsets', async () => {
    const topic = `${run}-orders`;
    const group = `${run}-g`;
    expect(ok(['topics', 'create', topic, '--partitions', '2', '--config', 'retention.ms=3600000'])).toMatch(
      /2 partition/,
    );
    expect(ok(['topics', 'list']).split('\n')).toContain(topic);
    const d = ok(['topics', 'describe', topic]);
    expect(d).toMatch(/2 partition/);
    expect(d).toMatch(/retention\.ms=3600000/);
    expect(d.split('\n').filter((l) => /^\d/.test(l)).length).toBe(2);
    // produce refuses an unknown topic unless --create.
    const refused = cli(['produce', `${run}-typo`], 'x\n');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/unknown topic .*pass --create/);
    const lines = Array.from({ length: 100 }, (_, i) => `k${i % 7}:v${i}`);
    expect(ok(['produce', topic, '--key-separator', ':'], lines.join('\n'))).toBe(
      `wrote 100 message(s) to ${topic}\n`,
    );
    const all = ok(['consume', topic, '--from-beginning', '-e']).trim().split('\n').sort();
    expect(all).toEqual(lines.map((l) => l.split(':')[1]).sort());
    // JSON with binary values, through Kafka and back.
    const raw = `${run}-raw`;
    const value = Buffer.from([0, 0xff, 0x80, 0x7f]);
    ok(
      ['produce', raw, '--create', '--format', 'json', '--value-encoding', 'hex'],
      `{"key":"a","value":"${value.toString('hex')}"}\n`,
    );
    const json = JSON.parse(
      ok(['consume', raw, '--from-beginning', '-e', '--format', 'json', '--value-encoding', 'base64']),
    );
    expect(json).toMatchObject({
      topic: raw,
      partition: 0,
      offset: '0',
      key: 'a',
      value: value.toString('base64'),
    });
    // A group reads 30, then shows its lag.
    expect(
      ok(['consume', topic, '--group', group, '--from-beginning', '--max-messages', '30']).trim().split('\n')
        .length,
    ).toBe(30);
    const lag = ok(['groups', 'describe', group]);
    expect(lag).toMatch(/total lag 70 over 2 partition/);
    expect(ok(['groups', 'list']).split('\n')).toContain(group);
    // reset-offsets: a plan first (nothing changes), then --execute.
    const plan = ok(['groups', 'reset-offsets', group, '--topic', topic, '--to-earliest']);
    expect(plan).toMatch(/GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+NEW-OFFSET/);
    expect(plan).toMatch(/nothing changed/);
    expect(ok(['groups', 'describe', group])).toMatch(/total lag 70/);
    ok(['groups', 'reset-offsets', group, '--topic', topic, '--to-earliest', '--execute']);
    expect(ok(['groups', 'describe', group])).toMatch(/total lag 100/);
    ok(['groups', 'reset-offsets', group, '--topic', topic, '--to-latest', '--execute']);
    expect(ok(['groups', 'describe', group])).toMatch(/total lag 0/);
    ok(['topics', 'delete', raw]);
  }, 240_000);

  it('waits at the end of a Kafka topic until new messages come', async () => {
    const topic = `${run}-tail`;
    ok(['produce', topic, '--create'], 'before\n');
    const child = spawn(process.execPath, [bin, 'consume', topic, '--brokers', kafka.bootstrap]);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    try {
      for (let i = 0; !out.includes('\n'); i++) {
        ok(['produce', topic], `after${i}\n`);
        await new Promise((r) => setTimeout(r, 500));
        expect(i).toBeLessThan(120);
      }
      expect(out).not.toContain('before');
      expect(out).toMatch(/^after\d+\n/);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.on('exit', r));
    }
  }, 120_000);
});
