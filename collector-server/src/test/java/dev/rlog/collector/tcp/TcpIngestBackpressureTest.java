package dev.rlog.collector.tcp;

import static dev.rlog.collector.tcp.TestClients.closedByServer;
import static dev.rlog.collector.tcp.TestClients.connect;
import static dev.rlog.collector.tcp.TestClients.frames;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.common.time.FakeClock;
import dev.rlog.common.wire.FrameEncoder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TcpIngestBackpressureTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  private final FakeClock clock = new FakeClock();
  private final TcpIngestCounters counters = new TcpIngestCounters();
  private IngestQueue queue;
  private TestWriter writer;
  private TcpIngestServer server;

  @AfterEach
  void tearDown() throws Exception {
    try {
      if (server != null) {
        server.close();
      }
    } finally {
      if (writer != null) {
        writer.close();
      }
      if (queue != null) {
        queue.close();
      }
    }
    assertThat(writer.failure()).isNull();
  }

  private int start(IngestQueue q, boolean nativeTransport) throws Exception {
    queue = q;
    writer = new TestWriter(queue);
    server = new TcpIngestServer(TcpIngestOptions.defaults().withHost("127.0.0.1").withPort(0)
        .withWorkerThreads(2).withNativeTransport(nativeTransport), queue, clock, counters);
    server.start();
    return server.port();
  }

  /**
   * Writes numbered records on a non-blocking channel as fast as the kernel takes them; each
   * {@link #pump} call writes until {@code write} returns 0.
   */
  private static final class FastSender implements AutoCloseable {
    private static final int PAYLOAD = 100;
    final SocketChannel channel;
    private final ByteBuffer out = ByteBuffer.allocate(64 << 10);
    long records; // fully put into `out`, so sent once `out` is drained
    long bytesWritten;
    int pollsWithoutProgress;
    boolean generating = true;

    FastSender(int port) throws IOException {
      channel = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
      channel.configureBlocking(false);
      out.flip();
    }

    static String payload(long n) {
      String head = String.format("rec-%09d-", n);
      return head + "p".repeat(PAYLOAD - head.length());
    }

    void pump() throws IOException {
      long before = bytesWritten;
      while (true) {
        if (!out.hasRemaining()) {
          if (!generating) {
            break;
          }
          out.clear();
          while (out.remaining() >= FrameEncoder.frameLength(PAYLOAD)) {
            byte[] p = payload(records++).getBytes(UTF_8);
            FrameEncoder.writeTo(out, p, 0, p.length);
          }
          out.flip();
        }
        int n = channel.write(out);
        if (n == 0) {
          break; // the send buffer is full: the receiver's window is closed
        }
        bytesWritten += n;
      }
      pollsWithoutProgress = bytesWritten == before ? pollsWithoutProgress + 1 : 0;
    }

    boolean drained() {
      return !out.hasRemaining();
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }

  @ParameterizedTest(name = "native transport: {0}")
  @ValueSource(booleans = {true, false})
  void fullQueueStopsReadingUntilTheSenderBlocksThenEverythingArrivesOnce(
      boolean nativeTransport) throws Exception {
    long capacity = 1 << 20;
    int port = start(new IngestQueue(capacity, 1_000_000, 512 << 10, 128 << 10, 900_000, 100_000),
        nativeTransport);
    writer.hold();

    try (FastSender sender = new FastSender(port)) {
      // Blocked = the queue is paused and several polls in a row could not write a single byte.
      await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> {
        writer.sampleQueue();
        sender.pump();
        return queue.isPaused() && sender.pollsWithoutProgress >= 5;
      });
      assertThat(counters.pausedConnections()).isEqualTo(1);
      assertThat(queue.queuedBytes()).isLessThanOrEqualTo(capacity);
      // the rest sits in kernel buffers, not in the collector
      assertThat(sender.bytesWritten).isGreaterThan(queue.queuedBytes());
      long receivedWhilePaused = counters.recordsReceived();
      assertThat(receivedWhilePaused).isLessThan(sender.records);

      writer.release();
      sender.generating = false;
      await().atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(() -> {
        sender.pump();
        return sender.drained();
      });
      long sent = sender.records;
      sender.channel.close(); // EOF now; the try block's close is then a no-op

      await().atMost(WAIT).until(() -> writer.count() == sent);
      List<TestWriter.Stored> stored = writer.stored();
      for (int i = 0; i < sent; i++) {
        assertThat(stored.get(i).text()).isEqualTo(FastSender.payload(i));
      }
      assertThat(writer.maxQueuedBytes()).isLessThanOrEqualTo(capacity);
      assertThat(counters.pauses()).isGreaterThanOrEqualTo(1);
      await().atMost(WAIT).until(() -> counters.pausedConnections() == 0);
    }
  }

  /**
   * Epoll reads a socket to its end once the peer has closed, even while reading is paused. Those
   * late reads must be kept (nothing read is lost) without breaking the queue's bound.
   */
  @ParameterizedTest(name = "native transport: {0}")
  @ValueSource(booleans = {true, false})
  void senderClosingWhilePausedLosesNothingAndKeepsTheQueueBound(boolean nativeTransport)
      throws Exception {
    long capacityRecords = 300;
    int port = start(new IngestQueue(64 << 20, capacityRecords, 32 << 20, 1 << 20, 50, 10),
        nativeTransport);
    writer.hold();
    String[] first = numbered("first-", 60);
    // ~40 KB: more than the first read (16 KiB guess), less than a loopback receive window
    int lateCount = 385;
    String[] late = new String[lateCount];
    for (int i = 0; i < lateCount; i++) {
      late[i] = FastSender.payload(i);
    }

    try (Socket a = connect(port)) {
      a.getOutputStream().write(frames(first));
      await().atMost(WAIT).until(() -> queue.isPaused() && queue.queuedRecords() == 60);
      try (Socket b = connect(port)) {
        b.getOutputStream().write(frames(late));
      } // closes at once: the FIN follows the data, which fits the server's receive buffer
      // b's reads arrive while the queue is paused: kept raw, not decoded (epoll goes on
      // reading b to its end after the FIN; those reads are kept raw too)
      await().atMost(WAIT).until(() -> counters.pausedConnections() == 2);
      assertThat(counters.recordsReceived()).isEqualTo(60);
      assertThat(queue.isPaused()).isTrue();
      writer.sampleQueue();
      assertThat(queue.queuedRecords()).isLessThanOrEqualTo(capacityRecords);

      writer.release();
      await().atMost(WAIT).until(() -> writer.count() == 60 + lateCount);
    }
    List<String> texts = writer.stored().stream().map(TestWriter.Stored::text).toList();
    assertThat(texts.subList(0, 60)).containsExactly(first);
    assertThat(texts.subList(60, 60 + lateCount)).containsExactly(late);
    assertThat(writer.maxQueuedRecords()).isLessThanOrEqualTo(capacityRecords);
    await().atMost(WAIT).until(() -> counters.openConnections() == 0
        && counters.pausedConnections() == 0 && server.liveConnections() == 0);
  }

  /**
   * Record bounds make the outcome exact: the first connection's 95 records are taken (the empty
   * queue takes any chunk) and pause the queue (above 50); the second connection's 10 would take
   * it to 105, above the capacity of 100, so they are refused and held.
   */
  private int startWithHeldChunkScenario(boolean nativeTransport) throws Exception {
    // high watermark 99 of 100 records: 95 queued do not pause, but 10 more do not fit, so the
    // second connection's read is refused (FULL) and held encoded
    return start(new IngestQueue(64 << 20, 100, 32 << 20, 1 << 20, 99, 10), nativeTransport);
  }

  private static String[] numbered(String prefix, int n) {
    String[] out = new String[n];
    for (int i = 0; i < n; i++) {
      out[i] = prefix + i;
    }
    return out;
  }

  @ParameterizedTest(name = "native transport: {0}")
  @ValueSource(booleans = {true, false})
  void shutdownWhilePausedForceOffersTheHeldChunk(boolean nativeTransport) throws Exception {
    int port = startWithHeldChunkScenario(nativeTransport);
    writer.hold();
    String[] first = numbered("first-", 95);
    String[] second = numbered("second-", 10);

    try (Socket a = connect(port); Socket b = connect(port)) {
      a.getOutputStream().write(frames(first));
      await().atMost(WAIT).until(() -> queue.queuedRecords() == 95);
      b.getOutputStream().write(frames(second));
      await().atMost(WAIT).until(() -> queue.refusedOffers() >= 1
          && counters.pausedConnections() == 1);
      assertThat(queue.queuedRecords()).isEqualTo(95);

      server.shutdown().get(10, TimeUnit.SECONDS);

      // the held chunk went in past the bound, and both connections were closed
      assertThat(queue.queuedRecords()).isEqualTo(105);
      assertThat(counters.pausedConnections()).isZero();
      assertThat(server.liveConnections()).isZero();
      assertThat(closedByServer(a)).isTrue();
      assertThat(closedByServer(b)).isTrue();
    }

    writer.release();
    await().atMost(WAIT).until(() -> writer.count() == 105);
    List<String> texts = writer.stored().stream().map(TestWriter.Stored::text).toList();
    assertThat(texts.subList(0, 95)).containsExactly(first);
    assertThat(texts.subList(95, 105)).containsExactly(second);
    assertThat(counters.recordsReceived()).isEqualTo(105);
  }

  @ParameterizedTest(name = "native transport: {0}")
  @ValueSource(booleans = {true, false})
  void heldRecordsOfAConnectionThatClosedAreDeliveredOnResume(boolean nativeTransport)
      throws Exception {
    int port = startWithHeldChunkScenario(nativeTransport);
    writer.hold();
    String[] first = numbered("first-", 95);
    String[] second = numbered("second-", 10);

    try (Socket a = connect(port)) {
      a.getOutputStream().write(frames(first));
      await().atMost(WAIT).until(() -> queue.queuedRecords() == 95);
      try (Socket b = connect(port)) {
        b.getOutputStream().write(frames(second));
        await().atMost(WAIT).until(() -> queue.refusedOffers() >= 1);
      } // b closes right after sending, while its records are held
      a.getOutputStream().write(frames("first-95"));
    }

    writer.release();
    await().atMost(WAIT).until(() -> writer.count() == 106);
    List<String> texts = writer.stored().stream().map(TestWriter.Stored::text).toList();
    // order holds per connection; the two resume together, so they may interleave
    assertThat(texts.stream().filter(t -> t.startsWith("first-")))
        .containsExactly(numbered("first-", 96));
    assertThat(texts.stream().filter(t -> t.startsWith("second-"))).containsExactly(second);
    await().atMost(WAIT).until(() -> counters.openConnections() == 0
        && counters.pausedConnections() == 0 && server.liveConnections() == 0);
  }

  @Test
  void closedQueueTakesWhatWasReadAndClosesTheConnection() throws Exception {
    int port = start(new IngestQueue(64 << 20, 1_000_000, 32 << 20, 16 << 20, 500_000, 250_000),
        true);
    try (Socket a = connect(port)) {
      a.getOutputStream().write(frames("before"));
      await().atMost(WAIT).until(() -> writer.count() == 1);

      queue.close(); // the collector is stopping: no more offers, but the writer still drains
      a.getOutputStream().write(frames("after-close"));

      assertThat(closedByServer(a)).isTrue();
    }
    await().atMost(WAIT).until(() -> writer.count() == 2);
    assertThat(writer.stored()).extracting(TestWriter.Stored::text)
        .containsExactly("before", "after-close");
  }
}
