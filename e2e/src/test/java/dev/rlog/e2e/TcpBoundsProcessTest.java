package dev.rlog.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rlog.common.wire.FrameEncoder;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The raw TCP port under hostile peers, against the built collector (default 112 MiB heap):
 * half-sent records from many connections, more connections than allowed, a source outside
 * {@code tcp.allow}. The collector stays up and bounded, and a well-behaved sender's records are
 * all stored meanwhile.
 */
class TcpBoundsProcessTest {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final long RSS_BOUND_KIB = 256 << 10;
  private static final int ONE_MIB = 1 << 20;

  @TempDir Path dir;
  private CollectorProcess collector;
  private final List<Socket> sockets = Collections.synchronizedList(new ArrayList<>());
  private ExecutorService pool;

  @AfterEach
  void stopEverything() throws Exception {
    if (pool != null) {
      pool.shutdownNow();
    }
    synchronized (sockets) {
      for (Socket s : sockets) {
        s.close();
      }
    }
    if (collector != null) {
      collector.close();
    }
    if (pool != null) {
      assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
    }
  }

  private Socket connect() throws IOException {
    Socket s = new Socket();
    sockets.add(s);
    s.connect(new InetSocketAddress("127.0.0.1", collector.tcpPort()), 10_000);
    return s;
  }

  private static void sendRecords(Socket s, String prefix, int n) throws IOException {
    OutputStream out = s.getOutputStream();
    for (int i = 0; i < n; i++) {
      out.write(FrameEncoder.encode((prefix + i).getBytes(StandardCharsets.UTF_8)));
    }
    out.flush();
  }

  private List<String> payloads(String prefix) throws IOException {
    return CollectorProcess.records(dir.resolve("data")).stream()
        .map((JsonNode r) -> r.get("payload").asText()).filter(p -> p.startsWith(prefix))
        .toList();
  }

  /** True once the collector closed {@code s}: EOF or a reset. */
  private static boolean closedByPeer(Socket s) throws IOException {
    s.setSoTimeout((int) WAIT.toMillis());
    try (InputStream in = s.getInputStream()) {
      return in.read() == -1;
    } catch (IOException reset) {
      return true;
    }
  }

  @Test
  void manyHalfSentMebibyteRecordsKeepTheCollectorUpUnder256MiBAndOthersAreStored()
      throws Exception {
    CollectorProcess.writeConfig(dir, "");
    collector = CollectorProcess.start(dir, List.of());
    int attackers = Integer.getInteger("probe.connections", 200);
    pool = Executors.newFixedThreadPool(16);
    List<Future<?>> sends = new ArrayList<>();
    for (int i = 0; i < attackers; i++) {
      sends.add(pool.submit(() -> {
        try {
          Socket s = connect();
          OutputStream out = s.getOutputStream();
          out.write(ByteBuffer.allocate(4).putInt(ONE_MIB).array());
          out.write(new byte[ONE_MIB - 1]); // one byte short: the record never completes
          out.flush();
        } catch (IOException closedByCollector) {
          // expected for the connections the budget closes
        }
        return null;
      }));
    }
    int good = 2_000;
    try (Socket s = connect()) {
      for (int batch = 0; batch < 10; batch++) {
        sendRecords(s, "good-" + batch + "-", good / 10);
      }
    }
    for (Future<?> f : sends) {
      f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }
    await().atMost(WAIT).until(() -> collector.metric("rlog_store_records_total") == good);
    await().atMost(WAIT).until(
        () -> collector.metric("rlog_tcp_partial_budget_closed_total") > 0);
    assertThat(collector.process().isAlive()).isTrue();
    long rss = collector.rssKiB();
    long peak = collector.peakRssKiB();
    System.out.printf("TCP partial-record probe: %d connections x (1 MiB header + 1 MiB - 1 B);"
        + " RSS %d KiB, peak RSS %d KiB, closed by budget %.0f, partial bytes dropped %.0f%n",
        attackers, rss, peak, collector.metric("rlog_tcp_partial_budget_closed_total"),
        collector.metric("rlog_tcp_partial_dropped_bytes_total"));
    assertThat(peak).isLessThan(RSS_BOUND_KIB);
    assertThat(collector.stop(WAIT)).isZero();
    assertThat(payloads("good-")).doesNotHaveDuplicates().hasSize(good);
  }

  @Test
  void connectionsPastMaxConnectionsAreRefusedAndCountedWhileOpenOnesWork() throws Exception {
    int max = 20;
    int extra = 30;
    CollectorProcess.writeConfig(dir, "tcp: {host: 127.0.0.1, port: 0, max_connections: " + max
        + "}");
    collector = CollectorProcess.start(dir, List.of());
    List<Socket> admitted = new ArrayList<>();
    for (int i = 0; i < max; i++) {
      admitted.add(connect());
    }
    await().atMost(WAIT).until(() -> collector.metric("rlog_tcp_connections") == max);
    for (int i = 0; i < extra; i++) {
      assertThat(closedByPeer(connect())).isTrue();
    }
    await().atMost(WAIT).until(
        () -> collector.metric("rlog_tcp_refused_max_connections_total") == extra);
    for (int i = 0; i < max; i++) {
      sendRecords(admitted.get(i), "open-" + i + "-", 10);
    }
    await().atMost(WAIT).until(() -> collector.metric("rlog_store_records_total") == max * 10);

    admitted.get(0).close(); // a slot frees up
    await().atMost(WAIT).until(() -> collector.metric("rlog_tcp_connections") == max - 1);
    try (Socket late = connect()) {
      sendRecords(late, "late-", 5);
      await().atMost(WAIT).until(
          () -> collector.metric("rlog_store_records_total") == max * 10 + 5);
    }
    assertThat(collector.process().isAlive()).isTrue();
    assertThat(collector.stop(WAIT)).isZero();
    assertThat(payloads("open-")).hasSize(max * 10);
    assertThat(payloads("late-")).hasSize(5);
  }

  @Test
  void aSourceOutsideTheAllowlistIsRefusedAndCounted() throws Exception {
    CollectorProcess.writeConfig(dir, "tcp: {host: 127.0.0.1, port: 0, allow: [10.0.0.0/8]}");
    collector = CollectorProcess.start(dir, List.of());
    for (int i = 0; i < 3; i++) {
      Socket s = connect();
      try {
        sendRecords(s, "refused-", 1);
      } catch (IOException alreadyClosed) {
        // the collector may have closed it before the write
      }
      assertThat(closedByPeer(s)).isTrue();
    }
    await().atMost(WAIT).until(
        () -> collector.metric("rlog_tcp_refused_not_allowed_total") == 3);
    assertThat(collector.metric("rlog_ingest_records_total")).isZero();
    assertThat(collector.stop(WAIT)).isZero();
    assertThat(payloads("refused-")).isEmpty();
  }
}
