/**
 * The private native binding. Nothing outside `ts/` imports this module;
 * `log.ts` is the API.
 *
 * `binding/index.js` is napi-rs's generated loader: it picks the binary for
 * this platform (`binding/ferrolog.<platform>.node` when built here, else the
 * `ferrolog-<platform>` package). `binding/index.d.ts` is generated from the
 * Rust signatures, so the types below come from it; they are narrowed only
 * where the Rust side hands back an object napi cannot describe (promises it
 * builds itself, the `{ id, promise }` pair, the external ArrayBuffer) or a
 * string that holds one of a few values.
 */
import type * as Generated from '../binding';
import type { RecoveryReport, SegmentDump, VerifyResult } from './engine-reports';
import type * as G from './group/types';

type GeneratedLog = Generated.NativeLog;
type Narrowed =
  | 'close'
  | 'syncTo'
  | 'syncToMany'
  | 'flush'
  | 'waitForData'
  | 'lastMapBuffer'
  | 'recoveryReports';

/** A topic as the binding reports it. */
export type NativeTopicInfo = Generated.TopicInfo;

export interface NativeLog extends Omit<GeneratedLog, Narrowed> {
  /** Resolves once the last handle has closed the engine (close fsyncs). */
  close(): Promise<void>;
  syncTo(...args: Parameters<GeneratedLog['syncTo']>): Promise<void>;
  syncToMany(...args: Parameters<GeneratedLog['syncToMany']>): Promise<void>[];
  flush(): Promise<void>;
  /** The promise resolves true once data passes the offset, false when cancelled or closed. */
  waitForData(...args: Parameters<GeneratedLog['waitForData']>): { id: number; promise: Promise<boolean> };
  lastMapBuffer(): ArrayBuffer | null;
  /** `action` is a Rust String napi types as `string`; the engine writes only RecoveryReport's values. */
  recoveryReports(): RecoveryReport[];
}

/** The group coordinator's calls take the narrowed log and the types of ts/group/types.ts. */
type GroupFns =
  | 'groupJoin'
  | 'groupSync'
  | 'groupHeartbeat'
  | 'groupLeave'
  | 'groupCommit'
  | 'groupFetchOffsets'
  | 'groupDescribe'
  | 'groupList'
  | 'groupDelete'
  | 'groupDeleteOffsets'
  | 'groupConfigure';

/** The Kafka broker's handle (see `server/listen.ts`). */
export interface NativeBroker extends Omit<Generated.NativeBroker, 'close'> {
  /** Resolves once every connection is closed and the port released. */
  close(): Promise<void>;
}

export type NativeBrokerOptions = Generated.BrokerOptions;

export interface Binding
  extends Omit<typeof Generated, 'NativeLog' | 'startBroker' | 'dumpSegment' | 'verifyDataDir' | GroupFns> {
  /** napi types an async task's result as unknown; these are the objects tools.rs builds. */
  dumpSegment(...args: Parameters<typeof Generated.dumpSegment>): Promise<SegmentDump>;
  verifyDataDir(...args: Parameters<typeof Generated.verifyDataDir>): Promise<VerifyResult>;
  startBroker(log: NativeLog, options: NativeBrokerOptions): NativeBroker;
  NativeLog: { open(...args: Parameters<typeof Generated.NativeLog.open>): NativeLog };
  groupJoin(log: NativeLog, req: G.JoinGroupRequest): Promise<G.JoinGroupResult>;
  groupSync(log: NativeLog, req: G.SyncGroupRequest): Promise<G.SyncGroupResult>;
  groupHeartbeat(log: NativeLog, req: G.HeartbeatRequest): Promise<number>;
  groupLeave(log: NativeLog, ...a: Parameters<G.GroupCalls['leave']>): ReturnType<G.GroupCalls['leave']>;
  groupCommit(log: NativeLog, req: G.OffsetCommitRequest): Promise<G.PartitionsResult>;
  groupFetchOffsets(
    log: NativeLog,
    ...a: Parameters<G.GroupCalls['fetchOffsets']>
  ): ReturnType<G.GroupCalls['fetchOffsets']>;
  groupDescribe(log: NativeLog, groupIds: string[]): Promise<G.DescribedGroup[]>;
  groupList(log: NativeLog, ...a: Parameters<G.GroupCalls['list']>): ReturnType<G.GroupCalls['list']>;
  groupDelete(log: NativeLog, groupIds: string[]): ReturnType<G.GroupCalls['delete']>;
  groupDeleteOffsets(
    log: NativeLog,
    ...a: Parameters<G.GroupCalls['deleteOffsets']>
  ): ReturnType<G.GroupCalls['deleteOffsets']>;
  /** Before the coordinator loads: its settings; false when it loaded or was configured already. */
  groupConfigure(log: NativeLog, options: Generated.GroupCoordinatorOptions): boolean;
}

function platformTag(): string {
  const { platform, arch } = process;
  if (platform !== 'linux') return `${platform}-${arch}`;
  // glibc's Node reports its runtime glibc version; musl builds do not.
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
    ?.header;
  return `linux-${arch}-${header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
}

function load(): Binding {
  try {
    // A static specifier, so bundlers see the dependency.
    return require('../binding/index.js') as Binding;
  } catch (e) {
    const tag = platformTag();
    const cause = String((e as Error)?.message ?? e).split('\n')[0];
    throw new Error(
      `ferrolog: no native addon loads on ${tag} (${cause}). ` +
        (process.platform !== 'linux'
          ? 'ferrolog runs on Linux only.'
          : `Installed from npm: reinstall without --omit=optional so npm adds ferrolog-${tag}, ` +
            'or build it from source with Rust 1.88+ and a C compiler on PATH: `npm rebuild ferrolog`. ' +
            'In the source repository: `npm install` (or `npm run build:native`).'),
      { cause: e },
    );
  }
}

export const binding: Binding = load();
