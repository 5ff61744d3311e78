// A Java consumer-group member (kafka-clients 4.1) for the multi-process
// group tests: subscribe, poll, commitSync after each poll, with a
// ConsumerRebalanceListener that records when partitions are assigned and
// revoked. Everything goes to the out file as JSON lines, written before
// the offsets after them are committed:
//   {"k":"assign"|"revoke"|"lost","m":NAME,"t":MS,"parts":[...]}
//   {"k":"msg","m":NAME,"p":P,"o":OFFSET,"t0":MS,"t1":MS}
//   {"k":"commit-error","m":NAME,"t":MS,"error":CLASS}
// It stops (closing the consumer, which revokes and leaves) when the file
// OUT.stop appears.
//
// Usage: FerrologJavaGroupMember BROKERS TOPIC GROUP OUT NAME SESSION_MS [INSTANCE_ID]
//
// ferrolog's and kafkajs's consumers name their round-robin assignor
// "RoundRobinAssigner" (kafkajs' name); Java's is "roundrobin". The same
// algorithm under kafkajs' name lets this member share their group.
import java.io.FileWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class FerrologJavaGroupMember {
  /** Java's round-robin assignment under kafkajs' protocol name. */
  public static class KafkaJsRoundRobin extends RoundRobinAssignor {
    @Override
    public String name() {
      return "RoundRobinAssigner";
    }
  }

  static PrintWriter out;
  static String name;

  static double now() {
    Instant i = Instant.now();
    return i.getEpochSecond() * 1000.0 + i.getNano() / 1e6;
  }

  static synchronized void line(String json) {
    out.println(json);
    out.flush();
  }

  static String parts(Collection<TopicPartition> ps) {
    return ps.stream().map(tp -> String.valueOf(tp.partition())).sorted().collect(Collectors.joining(","));
  }

  public static void main(String[] args) throws Exception {
    String brokers = args[0];
    String topic = args[1];
    String group = args[2];
    String outFile = args[3];
    name = args[4];
    int session = Integer.parseInt(args[5]);
    String instance = args.length > 6 ? args[6] : null;
    out = new PrintWriter(new FileWriter(outFile, true));
    Path stop = Path.of(outFile + ".stop");

    Properties cp = new Properties();
    cp.put("bootstrap.servers", brokers);
    cp.put("group.id", group);
    cp.put("client.id", name);
    cp.put("enable.auto.commit", "false");
    cp.put("auto.offset.reset", "earliest");
    cp.put("session.timeout.ms", String.valueOf(session));
    cp.put("heartbeat.interval.ms", "500");
    cp.put("max.poll.records", "50");
    cp.put("partition.assignment.strategy", KafkaJsRoundRobin.class.getName());
    cp.put("key.deserializer", StringDeserializer.class.getName());
    cp.put("value.deserializer", StringDeserializer.class.getName());
    if (instance != null) cp.put("group.instance.id", instance);

    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
      c.subscribe(
          List.of(topic),
          new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> ps) {
              line("{\"k\":\"revoke\",\"m\":\"" + name + "\",\"t\":" + now() + ",\"parts\":[" + parts(ps) + "]}");
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> ps) {
              line("{\"k\":\"assign\",\"m\":\"" + name + "\",\"t\":" + now() + ",\"parts\":[" + parts(ps) + "]}");
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> ps) {
              line("{\"k\":\"lost\",\"m\":\"" + name + "\",\"t\":" + now() + ",\"parts\":[" + parts(ps) + "]}");
            }
          });
      System.out.println("started");
      System.out.flush();
      while (!Files.exists(stop)) {
        ConsumerRecords<String, String> records = c.poll(Duration.ofMillis(100));
        if (records.isEmpty()) continue;
        Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
        for (ConsumerRecord<String, String> r : records) {
          double t0 = now();
          double t1 = now();
          line(
              "{\"k\":\"msg\",\"m\":\""
                  + name
                  + "\",\"p\":"
                  + r.partition()
                  + ",\"o\":"
                  + r.offset()
                  + ",\"t0\":"
                  + t0
                  + ",\"t1\":"
                  + t1
                  + "}");
          next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
        }
        try {
          c.commitSync(next);
        } catch (Exception e) {
          // A commit refused in a rebalance: the records are processed
          // again by their next owner (at least once).
          line("{\"k\":\"commit-error\",\"m\":\"" + name + "\",\"t\":" + now() + ",\"error\":\"" + e.getClass().getSimpleName() + "\"}");
        }
      }
    }
    line("{\"k\":\"closed\",\"m\":\"" + name + "\",\"t\":" + now() + "}");
    out.close();
  }
}
