/**
 * Every export of kafkajs 2.2.4 resolves from ferrolog: enumerated from
 * kafkajs' own `types/index.d.ts` with the TypeScript compiler, checked
 * against ferrolog's entry point; values are values at run time and equal
 * kafkajs' where they are data (enums, levels); error classes carry
 * kafkajs' names and `retriable` flags.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as ferrolog from '../ts';

const root = join(__dirname, '..');
const kafkajsTypes = join(root, 'node_modules', 'kafkajs', 'types', 'index.d.ts');
const ferrologEntry = join(root, 'ts', 'index.ts');
const requireFromRoot = createRequire(join(root, 'package.json'));
const kafkajs = requireFromRoot('kafkajs') as Record<string, unknown>;
const protocolErrors = requireFromRoot('kafkajs/src/protocol/error.js') as {
  errorCodes: { type: string; code: number; retriable: boolean; message: string }[];
};

interface ExportInfo {
  isValue: boolean;
}

function exportsOf(program: ts.Program, file: string): Map<string, ExportInfo> {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (source === undefined) throw new Error(`${file} is not in the program`);
  const module = checker.getSymbolAtLocation(source);
  if (module === undefined) throw new Error(`${file} is not a module`);
  const out = new Map<string, ExportInfo>();
  for (const s of checker.getExportsOfModule(module)) {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    out.set(s.name, { isValue: (target.flags & ts.SymbolFlags.Value) !== 0 });
  }
  return out;
}

const program = ts.createProgram([kafkajsTypes, ferrologEntry], {
  strict: true,
  skipLibCheck: true,
  types: ['node'],
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
});
const kafkajsExports = exportsOf(program, kafkajsTypes);
const ferrologExports = exportsOf(program, ferrologEntry);

describe('kafkajs 2.2.4 exports', () => {
  it('enumerates kafkajs: 167 declared with `export`, 178 with the implicitly exported helpers', () => {
    const text = readFileSync(kafkajsTypes, 'utf8');
    const declared = [
      ...text.matchAll(/^export (?:declare )?(?:type|interface|class|enum|const|var) (\w+)/gm),
    ].map((m) => m[1]);
    expect(new Set(declared).size).toBe(167);
    for (const name of declared) expect(kafkajsExports.has(name as string)).toBe(true);
    // A .d.ts without `export {}` exports its other declarations too (Sender, ValueOf, XOR, ...).
    expect(kafkajsExports.size).toBe(178);
  });

  it('resolves every kafkajs export from ferrolog, values as values', () => {
    const missing = [...kafkajsExports.keys()].filter((n) => !ferrologExports.has(n));
    expect(missing).toEqual([]);
    const notValues = [...kafkajsExports]
      .filter(([n, info]) => info.isValue && !ferrologExports.get(n)?.isValue)
      .map(([n]) => n);
    expect(notValues).toEqual([]);
  });

  it('has every kafkajs run-time export at run time, of the same kind', () => {
    const runtime = ferrolog as unknown as Record<string, unknown>;
    for (const [name, info] of kafkajsExports) {
      if (!info.isValue) continue;
      expect(runtime[name], name).toBeDefined();
      if (name in kafkajs) expect(typeof runtime[name], name).toBe(typeof kafkajs[name]);
    }
  });

  it('has kafkajs enum and level values', () => {
    const forward = (o: unknown) =>
      Object.fromEntries(
        Object.entries(o as Record<string, unknown>).filter(([k]) => Number.isNaN(Number(k))),
      );
    for (const name of [
      'logLevel',
      'CompressionTypes',
      'AclResourceTypes',
      'ConfigResourceTypes',
      'AclPermissionTypes',
      'AclOperationTypes',
      'ResourcePatternTypes',
      'ConfigSource',
    ]) {
      const theirs = kafkajs[name];
      expect(theirs, name).toBeDefined();
      expect(forward((ferrolog as unknown as Record<string, unknown>)[name]), name).toEqual(forward(theirs));
    }
    // Spot values, should kafkajs' run time ever drop one of these.
    expect(forward(ferrolog.ConfigSource)).toMatchObject({ TOPIC_CONFIG: 1, DEFAULT_CONFIG: 5 });
  });

  it('compiles the same kafkajs program against both packages: only the import differs', () => {
    const mine = readFileSync(join(root, 'test', 'types', 'kafkajs-program.ts'), 'utf8');
    // One file, two compilations: the kafkajs one resolves `ferrolog` to kafkajs's declarations.
    const config = (name: string) =>
      JSON.parse(readFileSync(join(root, 'test', 'types', name), 'utf8')) as {
        files: string[];
        compilerOptions: { paths: Record<string, string[]> };
      };
    expect(config('tsconfig.json').files).toContain('kafkajs-program.ts');
    expect(config('tsconfig.json').compilerOptions.paths.ferrolog).toEqual(['../../ts/index.ts']);
    expect(config('tsconfig.kafkajs.json').files).toEqual(['kafkajs-program.ts']);
    expect(config('tsconfig.kafkajs.json').compilerOptions.paths.ferrolog).toEqual([
      '../../node_modules/kafkajs/types/index.d.ts',
    ]);
    // ...and that program imports every kafkajs export by name.
    const clause = /import \{([\s\S]*?)\} from 'ferrolog';/.exec(mine)?.[1] ?? '';
    const imported = new Set(clause.split(',').map((s) => s.replace(/\btype\b/, '').trim()));
    expect([...kafkajsExports.keys()].filter((n) => !imported.has(n))).toEqual([]);
  });
});

describe('kafkajs error classes', () => {
  type Ctor = new (...args: unknown[]) => Error & { retriable?: boolean };
  const samples: [string, unknown[]][] = [
    ['KafkaJSError', ['x']],
    ['KafkaJSNonRetriableError', ['x']],
    // kafkajs builds it from the broker's protocol error, whose flag it keeps.
    [
      'KafkaJSOffsetOutOfRange',
      [
        new (kafkajs.KafkaJSProtocolError as new (e: unknown) => Error)(
          protocolErrors.errorCodes.find((e) => e.type === 'OFFSET_OUT_OF_RANGE'),
        ),
        { topic: 't', partition: 0 },
      ],
    ],
    ['KafkaJSNumberOfRetriesExceeded', [new Error('x'), { retryCount: 1, retryTime: 2 }]],
    ['KafkaJSConnectionError', ['x', { broker: 'b' }]],
    ['KafkaJSRequestTimeoutError', ['x', { broker: 'b' }]],
    ['KafkaJSMetadataNotLoaded', ['x']],
    ['KafkaJSTopicMetadataNotLoaded', ['x', { topic: 't' }]],
    ['KafkaJSStaleTopicMetadataAssignment', ['x', { topic: 't', unknownPartitions: [] }]],
    ['KafkaJSServerDoesNotSupportApiKey', ['x', { apiKey: 1, apiName: 'Fetch' }]],
    ['KafkaJSBrokerNotFound', ['x']],
    ['KafkaJSPartialMessageError', ['x']],
    ['KafkaJSSASLAuthenticationError', ['x']],
    ['KafkaJSGroupCoordinatorNotFound', ['x']],
    ['KafkaJSNotImplemented', ['x']],
    ['KafkaJSTimeout', ['x']],
    ['KafkaJSLockTimeout', ['x']],
    ['KafkaJSUnsupportedMagicByteInMessageSet', ['x']],
    ['KafkaJSDeleteGroupsError', ['x', []]],
    ['KafkaJSDeleteTopicRecordsError', [{ topic: 't', partitions: [] }]],
    ['KafkaJSAggregateError', ['x', []]],
  ];

  it.each(samples)('%s has kafkajs name, retriable flag and base class', (name, args) => {
    const Mine = (ferrolog as unknown as Record<string, Ctor>)[name] as Ctor;
    const Theirs = kafkajs[name] as Ctor;
    const mine = new Mine(...args);
    const theirs = new Theirs(...args);
    expect(mine.name).toBe(theirs.name);
    expect(mine.retriable).toBe(theirs.retriable);
    expect(mine instanceof ferrolog.KafkaJSError).toBe(theirs instanceof (kafkajs.KafkaJSError as Ctor));
    expect(mine.message).toBe(theirs.message);
  });

  it('takes a protocol error retriable flag from kafkajs for every code ferrolog raises', () => {
    const byType = new Map(protocolErrors.errorCodes.map((e) => [e.type, e]));
    for (const [type, retriable] of Object.entries(ferrolog.PROTOCOL_RETRIABLE)) {
      expect(byType.get(type)?.retriable, type).toBe(retriable);
      const code = byType.get(type)?.code as number;
      // Whatever a call site passes, the flag is kafkajs'.
      expect(new ferrolog.KafkaJSProtocolError('x', type, code, !retriable).retriable, type).toBe(retriable);
    }
    // kafkajs' own form: the error-code object.
    const unknownTopic = byType.get('UNKNOWN_TOPIC_OR_PARTITION');
    const e = new ferrolog.KafkaJSProtocolError(
      unknownTopic as { type: string; code: number; message: string },
    );
    expect([e.type, e.code, e.retriable, e.message]).toEqual([
      'UNKNOWN_TOPIC_OR_PARTITION',
      3,
      true,
      'This server does not host this topic-partition',
    ]);
  });

  it('gives every ferrolog error that names a Kafka error type the kafkajs flag for it', () => {
    const byType = new Map(protocolErrors.errorCodes.map((e) => [e.type, e.retriable]));
    const typed: (Error & { type: string; retriable: boolean })[] = [new ferrolog.KafkaJSTopicNotFound('t')];
    for (const value of Object.values(ferrolog)) {
      if (typeof value !== 'function' || !(value.prototype instanceof ferrolog.FerrologError)) continue;
      const e = new (value as new (m: string) => Error & { type?: unknown; retriable: boolean })('x');
      if (typeof e.type === 'string') typed.push(e as Error & { type: string; retriable: boolean });
    }
    expect(typed.map((e) => e.name)).toEqual(
      expect.arrayContaining(['UnknownTopicOrPartitionError', 'TopicExistsError', 'OffsetOutOfRangeError']),
    );
    for (const e of typed) expect(e.retriable, e.name).toBe(byType.get(e.type));
  });
});
