/**
 * `admin().describeAcls / createAcls / deleteAcls`, kafkajs 2.2.4's API, for
 * both transports:
 *
 * - in process (`new Kafka({ dataDir })`): the ACLs of the data directory
 *   this process owns, the same store `kafka.listen()` / `ferrolog serve`
 *   enforces. The owner is not subject to ACLs (it has the files anyway), so
 *   these calls are never refused for authorization.
 * - remote (`new Kafka({ brokers })`): the DescribeAcls, CreateAcls and
 *   DeleteAcls requests, authorized by the broker (Describe or Alter on the
 *   cluster).
 *
 * Arguments are checked as kafkajs checks them, with its messages; broker
 * errors become the same KafkaJSProtocolError kafkajs throws.
 */
import { fromNative, KafkaJSNonRetriableError } from '../errors';
import { binding, type NativeLog } from '../native';
import { call, kafkaError } from '../transport/kafka-errors';
import {
  type AclEntry,
  type AclFilter,
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  type DeleteAclResponse,
  type DescribeAclResource,
  type DescribeAclResponse,
  type MatchingAcl,
  ResourcePatternTypes,
} from '../types/kafkajs';

/** An ACL binding or filter as the native side takes and returns it. */
interface NativeAcl {
  resourceType: number;
  resourceName?: string | null;
  resourcePatternType: number;
  principal?: string | null;
  host?: string | null;
  operation: number;
  permissionType: number;
}

/** A binding the native side returns: every field set. */
interface NativeAclBinding {
  resourceType: number;
  resourceName: string;
  resourcePatternType: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}

interface NativeAclResult {
  errorCode: number;
  errorMessage?: string | null;
}

interface NativeDeleteResult extends NativeAclResult {
  matchingAcls: NativeAclBinding[];
}

/** What each transport provides. */
export interface AclCalls {
  describe(filter: NativeAcl): Promise<NativeAclBinding[]>;
  create(acls: NativeAcl[]): Promise<NativeAclResult[]>;
  delete(filters: NativeAcl[]): Promise<NativeDeleteResult[]>;
}

interface LocalAclBinding {
  aclsDescribe(log: NativeLog, filter: NativeAcl): Promise<NativeAclBinding[]>;
  aclsCreate(log: NativeLog, acls: NativeAcl[]): Promise<NativeAclResult[]>;
  aclsDelete(log: NativeLog, filters: NativeAcl[]): Promise<NativeDeleteResult[]>;
}

interface RemoteAclClient {
  describeAcls(filter: NativeAcl): Promise<NativeAclBinding[]>;
  createAcls(acls: NativeAcl[]): Promise<NativeAclResult[]>;
  deleteAcls(filters: NativeAcl[]): Promise<NativeDeleteResult[]>;
}

/** The in-process calls, on the owner's log (not subject to ACLs). */
export function localAcls(handle: unknown): AclCalls {
  // `Log[nativeHandle]()`, typed unknown to keep the binding out of the published declarations.
  const native = handle as NativeLog;
  const b = binding as unknown as LocalAclBinding;
  const local = async <T>(p: () => Promise<T>): Promise<T> => {
    try {
      return await p();
    } catch (e) {
      throw fromNative(e);
    }
  };
  return {
    describe: (f) => local(() => b.aclsDescribe(native, f)),
    create: (a) => local(() => b.aclsCreate(native, a)),
    delete: (f) => local(() => b.aclsDelete(native, f)),
  };
}

/** The remote calls, through the Rust client (authorized by the broker). */
export function remoteAcls(client: unknown): AclCalls {
  const c = client as RemoteAclClient;
  return {
    describe: (f) => call(() => c.describeAcls(f)),
    create: (a) => call(() => c.createAcls(a)),
    delete: (f) => call(() => c.deleteAcls(f)),
  };
}

const values = (e: object): unknown[] => Object.values(e).filter((v) => typeof v === 'number');

function checkTypes(items: AclFilter[] | AclEntry[], filter: boolean): void {
  const noun = filter ? 'ACL Filter array' : 'ACL array';
  const okString = (v: unknown) => typeof v === 'string' || (filter && v === undefined);
  if (items.some((i) => !okString(i?.principal)))
    throw new KafkaJSNonRetriableError(`Invalid ${noun}, the principals have to be a valid string`);
  if (items.some((i) => !okString(i?.host)))
    throw new KafkaJSNonRetriableError(`Invalid ${noun}, the hosts have to be a valid string`);
  if (items.some((i) => !okString(i?.resourceName)))
    throw new KafkaJSNonRetriableError(`Invalid ${noun}, the resourceNames have to be a valid string`);
  const check = (field: keyof AclFilter, valid: unknown[], what: string) => {
    const bad = items.find((i) => !valid.includes(i[field]));
    if (bad)
      throw new KafkaJSNonRetriableError(`Invalid ${what} ${String(bad[field])}: ${JSON.stringify(bad)}`);
  };
  check('operation', values(AclOperationTypes), 'operation type');
  check('resourcePatternType', values(ResourcePatternTypes), 'resource pattern type');
  check('permissionType', values(AclPermissionTypes), 'permission type');
  check('resourceType', values(AclResourceTypes), 'resource type');
}

function toNative(a: AclFilter | AclEntry): NativeAcl {
  return {
    resourceType: a.resourceType,
    resourceName: a.resourceName ?? undefined,
    resourcePatternType: a.resourcePatternType,
    principal: a.principal ?? undefined,
    host: a.host ?? undefined,
    operation: a.operation,
    permissionType: a.permissionType,
  };
}

export async function describeAcls(calls: AclCalls, options: AclFilter): Promise<DescribeAclResponse> {
  if (options === null || typeof options !== 'object')
    throw new KafkaJSNonRetriableError('Invalid ACL filter');
  const o = options;
  if (typeof o.principal !== 'string' && o.principal !== undefined)
    throw new KafkaJSNonRetriableError('Invalid principal, the principal have to be a valid string');
  if (typeof o.host !== 'string' && o.host !== undefined)
    throw new KafkaJSNonRetriableError('Invalid host, the host have to be a valid string');
  if (typeof o.resourceName !== 'string' && o.resourceName !== undefined)
    throw new KafkaJSNonRetriableError('Invalid resourceName, the resourceName have to be a valid string');
  if (!values(AclOperationTypes).includes(o.operation))
    throw new KafkaJSNonRetriableError(`Invalid operation type ${o.operation}`);
  if (!values(ResourcePatternTypes).includes(o.resourcePatternType))
    throw new KafkaJSNonRetriableError(`Invalid resource pattern filter type ${o.resourcePatternType}`);
  if (!values(AclPermissionTypes).includes(o.permissionType))
    throw new KafkaJSNonRetriableError(`Invalid permission type ${o.permissionType}`);
  if (!values(AclResourceTypes).includes(o.resourceType))
    throw new KafkaJSNonRetriableError(`Invalid resource type ${o.resourceType}`);
  const bindings = await calls.describe(toNative(o));
  // Grouped by resource, as the DescribeAcls response is.
  const resources: DescribeAclResource[] = [];
  for (const b of bindings) {
    let r = resources.find(
      (x) =>
        x.resourceType === b.resourceType &&
        x.resourceName === b.resourceName &&
        x.resourcePatternType === b.resourcePatternType,
    );
    if (r === undefined) {
      const fresh: DescribeAclResource = {
        resourceType: b.resourceType,
        resourceName: b.resourceName,
        resourcePatternType: b.resourcePatternType,
        acls: [],
      };
      resources.push(fresh);
      r = fresh;
    }
    r.acls.push({
      principal: b.principal,
      host: b.host,
      operation: b.operation,
      permissionType: b.permissionType,
    });
  }
  return { throttleTime: 0, errorCode: 0, resources };
}

export async function createAcls(calls: AclCalls, options: { acl: AclEntry[] }): Promise<boolean> {
  const acl = options?.acl;
  if (!acl || !Array.isArray(acl)) throw new KafkaJSNonRetriableError(`Invalid ACL array ${String(acl)}`);
  if (acl.length === 0) throw new KafkaJSNonRetriableError('Empty ACL array');
  checkTypes(acl, false);
  const results = await calls.create(acl.map(toNative));
  const failed = results.find((r) => r.errorCode !== 0);
  if (failed) throw kafkaError(failed.errorCode, failed.errorMessage);
  return true;
}

export async function deleteAcls(
  calls: AclCalls,
  options: { filters: AclFilter[] },
): Promise<DeleteAclResponse> {
  const filters = options?.filters;
  if (!filters || !Array.isArray(filters))
    throw new KafkaJSNonRetriableError(`Invalid ACL Filter array ${String(filters)}`);
  if (filters.length === 0) throw new KafkaJSNonRetriableError('Empty ACL Filter array');
  checkTypes(filters, true);
  const results = await calls.delete(filters.map(toNative));
  const failed = results.find((r) => r.errorCode !== 0);
  if (failed) throw kafkaError(failed.errorCode, failed.errorMessage);
  return {
    throttleTime: 0,
    filterResponses: results.map((r) => ({
      errorCode: 0,
      errorMessage: undefined,
      matchingAcls: r.matchingAcls.map(
        (m): MatchingAcl => ({
          errorCode: 0,
          errorMessage: undefined,
          resourceType: m.resourceType,
          resourceName: m.resourceName,
          resourcePatternType: m.resourcePatternType,
          principal: m.principal,
          host: m.host,
          operation: m.operation,
          permissionType: m.permissionType,
        }),
      ),
    })),
  };
}
