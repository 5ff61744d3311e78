/**
 * `consumer.messages()` and `for await (... of consumer)`: messages as an
 * async iterator over `run({ eachMessage })`, with backpressure. The next
 * message is read when the loop asks for it, and a message counts as
 * processed (and may be committed) once the loop moves past it.
 */
import type { ConsumerRunConfig, KafkaMessage } from './types';

/** What the iterator needs of its consumer. */
export interface IterableConsumer<K, V> {
  run(config: ConsumerRunConfig<K, V>): Promise<void>;
  stop(): Promise<void>;
  running(): boolean;
}

export function messageIterator<K, V>(
  consumer: IterableConsumer<K, V>,
): AsyncIterableIterator<{ topic: string; partition: number; message: KafkaMessage<K, V> }> {
  type Item = { topic: string; partition: number; message: KafkaMessage<K, V> };
  const queue: { item: Item; done: () => void }[] = [];
  let wakeReader: (() => void) | null = null;
  let started: Promise<void> | null = null;
  let finished = false;
  const start = () => {
    started ??= consumer.run({
      eachMessage: (payload) =>
        new Promise<void>((done) => {
          queue.push({
            item: { topic: payload.topic, partition: payload.partition, message: payload.message },
            done,
          });
          wakeReader?.();
        }),
    });
    return started;
  };
  let previous: (() => void) | null = null;
  const iterator: AsyncIterableIterator<Item> = {
    next: async () => {
      // Moving on means the previous message was processed.
      previous?.();
      previous = null;
      await start();
      while (queue.length === 0) {
        if (finished || !consumer.running()) return { done: true, value: undefined };
        await new Promise<void>((r) => {
          wakeReader = r;
        });
        wakeReader = null;
      }
      const { item, done } = queue.shift() as { item: Item; done: () => void };
      previous = done;
      return { done: false, value: item };
    },
    return: async () => {
      finished = true;
      previous?.();
      previous = null;
      // Messages handed over but not consumed are not committed.
      await consumer.stop();
      for (const q of queue.splice(0)) q.done();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
