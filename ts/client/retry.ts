/**
 * Retries with kafkajs' `retry` semantics: exponential backoff with
 * randomisation, `retries` attempts after the first, then
 * KafkaJSNumberOfRetriesExceeded (the last error as its `cause`). With
 * `retries: 0` the error surfaces as it is. Non-retriable errors surface at once
 * (`isRetriable` says which are; by default retriable KafkaJSErrors).
 */
import { KafkaJSError, KafkaJSNumberOfRetriesExceeded } from '../errors';

export interface RetryOptions {
  maxRetryTime?: number;
  initialRetryTime?: number;
  factor?: number;
  multiplier?: number;
  retries?: number;
  restartOnFailure?: (e: Error) => Promise<boolean>;
}

export const RETRY_DEFAULTS = {
  maxRetryTime: 30_000,
  initialRetryTime: 300,
  factor: 0.2,
  multiplier: 2,
  retries: 5,
} as const;

function randomize(factor: number, time: number): number {
  const delta = factor * time;
  return Math.ceil(time - delta + Math.random() * 2 * delta);
}

function isRetriable(e: unknown): boolean {
  return e instanceof KafkaJSError ? e.retriable : false;
}

/**
 * Runs `fn` until it succeeds, a non-retriable error occurs, or retries run out.
 * `firstError`, when given, is the failure of a first attempt the caller
 * already made: the retries follow it (after the backoff) and count from it.
 */
export async function withRetry<T>(
  options: (RetryOptions & { isRetriable?: (e: unknown) => boolean }) | undefined,
  fn: (retryCount: number) => T | Promise<T>,
  ...firstError: [unknown?]
): Promise<T> {
  const o = { ...RETRY_DEFAULTS, ...options };
  const retriable = options?.isRetriable ?? isRetriable;
  let retryTime = randomize(o.factor, o.initialRetryTime);
  let made = firstError.length > 0;
  for (let retryCount = 0; ; retryCount++) {
    let e: unknown;
    if (made) {
      made = false;
      e = firstError[0];
    } else {
      try {
        return await fn(retryCount);
      } catch (err) {
        e = err;
      }
    }
    if (!retriable(e)) throw e;
    if (retryCount >= o.retries) {
      // With retries: 0 nothing was retried: the error itself (its class
      // and `code`, e.g. a StorageIOError for a full disk) says more than
      // a wrapper around it would.
      if (retryCount === 0) throw e;
      throw new KafkaJSNumberOfRetriesExceeded(e as Error, { retryCount, retryTime });
    }
    await new Promise((r) => setTimeout(r, retryTime));
    retryTime = Math.min(randomize(o.factor, retryTime) * o.multiplier, o.maxRetryTime);
  }
}
