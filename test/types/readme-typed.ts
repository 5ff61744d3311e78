/**
 * The README's typed producer and consumer, compiled strict, and the
 * mistakes the types must catch: each `@ts-expect-error` line fails the
 * compile if it stops being an error. ferrolog only (kafkajs has no
 * serializers), so it is compiled against ferrolog alone.
 */
import {
  CompressionTypes,
  Deserializers,
  deadLetterQueue,
  type EachMessagePayload,
  Kafka,
  type KafkaMessage,
  type Message,
  Partitioners,
  Serializers,
} from 'ferrolog';

const kafka = new Kafka({ clientId: 'my-app', dataDir: './ferrolog-data' });

export async function readme(): Promise<void> {
  // The README's producer.
  const producer = kafka.producer({ acks: 1, compression: 'lz4', batch: { size: 16384, lingerMs: 5 } });
  await producer.connect();
  const [meta] = await producer.send({
    topic: 'orders',
    messages: [
      { key: 'order-1', value: JSON.stringify({ total: 42 }), headers: { 'correlation-id': '12345' } },
    ],
  });
  console.log(meta?.partition, meta?.baseOffset);
  await producer.sendBatch({
    topicMessages: [
      { topic: 'a', messages: [{ value: 'x' }] },
      { topic: 'b', messages: [{ value: 'y' }] },
    ],
  });
  await producer.disconnect();

  // Typed serializers: a Producer<K, V> checks message types at compile time.
  const users = kafka.producer<string, { id: number }>({
    serializers: { key: Serializers.string, value: Serializers.json },
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await users.send({ topic: 'users', messages: [{ key: 'u1', value: { id: 1 } }] });
  // @ts-expect-error the value must be { id: number }
  await users.send({ topic: 'users', messages: [{ key: 'u1', value: { id: '1' } }] });
  // @ts-expect-error the key must be a string
  await users.send({ topic: 'users', messages: [{ key: 1, value: { id: 1 } }] });
  // @ts-expect-error Serializers.string cannot serialize an object key
  kafka.producer<{ id: number }, string>({ serializers: { key: Serializers.string } });

  // The README's typed consumer.
  const consumer = kafka.consumer<string, { id: number }>({
    groupId: 'billing',
    deserializers: { key: Deserializers.string, value: Deserializers.json },
  });
  await consumer.connect();
  await consumer.subscribe({ topics: ['users'], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const key: string | null = message.key;
      const id: number | undefined = message.value?.id;
      // @ts-expect-error value is { id: number }, not a Buffer
      message.value?.toString('utf8');
      void [key, id, message.rawValue];
    },
  });
  // @ts-expect-error Deserializers.string does not give a number key
  kafka.consumer<number, Buffer>({ groupId: 'g', deserializers: { key: Deserializers.string } });
  // @ts-expect-error Deserializers.buffer does not give a string value
  kafka.consumer<Buffer, string>({ groupId: 'g', deserializers: { value: Deserializers.buffer } });

  // The untyped consumer delivers kafkajs' KafkaMessage; the iterator and the DLQ helper keep their types.
  const plain = kafka.consumer({ groupId: 'plain' });
  for await (const { message } of plain.messages()) {
    const m: KafkaMessage = message;
    void m.value?.toString();
    break;
  }
  const dlqProducer = kafka.producer();
  await plain.run({
    eachMessage: deadLetterQueue(async (p: EachMessagePayload) => void p.message.offset, {
      producer: dlqProducer,
      retries: 3,
    }),
  });

  // kafkajs' Message is the producer's message.
  const messages: Message[] = [{ key: 'k', value: 'v', partition: 0 }];
  await producer.send({ topic: 'orders', messages, compression: CompressionTypes.ZSTD });

  // Event payloads are inferred from the event name.
  consumer.on(consumer.events.CRASH, (e) => {
    const error: Error = e.payload.error;
    void error;
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => void e.payload.memberAssignment);
  // @ts-expect-error a heartbeat has no memberAssignment
  consumer.on(consumer.events.HEARTBEAT, (e) => void e.payload.memberAssignment);
  // @ts-expect-error CONNECT's payload is null
  producer.on(producer.events.CONNECT, (e) => void e.payload.size);
  producer.on(producer.events.REQUEST, (e) => void e.payload.size);
  // @ts-expect-error not a producer event
  producer.on('consumer.crash', () => {});
  const admin = kafka.admin();
  admin.on(admin.events.DISCONNECT, (e) => void e.timestamp);
  // @ts-expect-error not an admin event
  admin.on(producer.events.CONNECT, () => {});
  await users.disconnect();
  await consumer.disconnect();
}
