/**
 * A dead-letter helper for the pattern users write by hand: try a message a
 * few times, then park it in `<topic>.dlq` with the error in its headers and
 * move on, so one bad message does not stop a partition.
 *
 *   await consumer.run({
 *     eachMessage: deadLetterQueue(async ({ message }) => handle(message), { producer }),
 *   })
 *
 * The dead letter carries the original key, value and headers as bytes (the
 * raw bytes even when a deserializer failed), plus `x-dlq-*` headers: the
 * error's name and message, the original topic, partition and offset, and
 * the number of attempts.
 */
import type { IHeaders } from '../codec';
import type { Producer } from '../producer/producer';
import type { RawValue } from '../producer/serializers';
import type { EachMessagePayload } from './types';

export interface DeadLetterOptions {
  /** A connected producer for the dead letters. */
  producer: Producer<RawValue, RawValue>;
  /** Attempts before a message is parked (default 3). */
  retries?: number;
  /** The dead-letter topic for a topic (default `${topic}.dlq`). */
  topic?: (topic: string) => string;
  /** Called after a message was parked. */
  onDeadLetter?: (error: Error, payload: { topic: string; partition: number; offset: string }) => void;
}

export function deadLetterQueue<K, V>(
  handler: (payload: EachMessagePayload<K, V>) => Promise<void>,
  options: DeadLetterOptions,
): (payload: EachMessagePayload<K, V>) => Promise<void> {
  const retries = options.retries ?? 3;
  const dlqTopic = options.topic ?? ((t: string) => `${t}.dlq`);
  return async (payload) => {
    let last: Error = new Error('unknown failure');
    for (let attempt = 1; attempt <= retries; attempt++) {
      try {
        await handler(payload);
        return;
      } catch (e) {
        last = e instanceof Error ? e : new Error(String(e));
        await payload.heartbeat();
      }
    }
    const m = payload.message;
    const headers: IHeaders = { ...m.headers };
    headers['x-dlq-error-name'] = last.name;
    headers['x-dlq-error-message'] = last.message;
    headers['x-dlq-original-topic'] = payload.topic;
    headers['x-dlq-original-partition'] = String(payload.partition);
    headers['x-dlq-original-offset'] = m.offset;
    headers['x-dlq-attempts'] = String(retries);
    await options.producer.send({
      topic: dlqTopic(payload.topic),
      messages: [{ key: m.rawKey ?? null, value: m.rawValue ?? null, headers, timestamp: m.timestamp }],
    });
    options.onDeadLetter?.(last, { topic: payload.topic, partition: payload.partition, offset: m.offset });
  };
}
