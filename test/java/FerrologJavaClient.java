// The Apache Kafka Java client (4.1) against ferrolog's broker: AdminClient,
// a producer with the Java defaults (idempotence on, acks=all) and lz4, and a
// consumer with assigned partitions (no group: groups are another issue's).
// Prints every record read back as partition|key|value.
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class FerrologJavaClient {
  public static void main(String[] args) throws Exception {
    String brokers = args[0];
    int count = Integer.parseInt(args[1]);
    Properties common = new Properties();
    common.put("bootstrap.servers", brokers);
    try (Admin admin = Admin.create(common)) {
      admin.createTopics(List.of(new NewTopic("java", 2, (short) 1))).all().get();
      if (!admin.listTopics().names().get().contains("java")) throw new IllegalStateException("topic not listed");
      TopicDescription d = admin.describeTopics(List.of("java")).allTopicNames().get().get("java");
      if (d.partitions().size() != 2) throw new IllegalStateException("partitions: " + d.partitions().size());
    }
    Properties pp = new Properties();
    pp.putAll(common);
    pp.put("compression.type", "lz4");
    pp.put("key.serializer", StringSerializer.class.getName());
    pp.put("value.serializer", StringSerializer.class.getName());
    try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
      for (int i = 0; i < count; i++) p.send(new ProducerRecord<>("java", i % 2, "k" + i, "java " + i));
      p.flush();
    }
    Properties cp = new Properties();
    cp.putAll(common);
    cp.put("enable.auto.commit", "false");
    cp.put("key.deserializer", StringDeserializer.class.getName());
    cp.put("value.deserializer", StringDeserializer.class.getName());
    List<String> got = new ArrayList<>();
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
      List<TopicPartition> parts = List.of(new TopicPartition("java", 0), new TopicPartition("java", 1));
      c.assign(parts);
      c.seekToBeginning(parts);
      long deadline = System.currentTimeMillis() + 60_000;
      while (got.size() < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
          got.add(r.partition() + "|" + r.key() + "|" + r.value());
        }
      }
    }
    for (String line : got) System.out.println(line);
  }
}
