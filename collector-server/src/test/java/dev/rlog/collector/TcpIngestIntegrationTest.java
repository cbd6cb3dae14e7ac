package dev.rlog.collector;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Empty;
import dev.rlog.collector.store.WriteGate;
import dev.rlog.common.time.Clock;
import dev.rlog.common.wire.FrameEncoder;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.ManagedChannel;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Raw TCP ingest through the whole collector into the store on disk, over loopback. */
class TcpIngestIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;

  private static Set<String> payloads(List<JsonNode> recs) {
    Set<String> out = new HashSet<>();
    for (JsonNode r : recs) {
      assertThat(out.add(r.get("payload").asText())).as("stored twice: %s", r).isTrue();
    }
    return out;
  }

  @Test
  void fiveHundredShortConnectionsOfTenRecordsAllLandInTheStore() throws Exception {
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      int port = c.collector.tcpPort();
      ExecutorService pool = Executors.newFixedThreadPool(16);
      try {
        List<Future<?>> sends = new ArrayList<>();
        for (int conn = 0; conn < 500; conn++) {
          int id = conn;
          sends.add(pool.submit(() -> {
            try (Socket s = new Socket("127.0.0.1", port)) {
              OutputStream out = s.getOutputStream();
              for (int r = 0; r < 10; r++) {
                out.write(FrameEncoder.encode(("c" + id + "-r" + r).getBytes(StandardCharsets.UTF_8)));
              }
            }
            return null;
          }));
        }
        for (Future<?> f : sends) {
          f.get(60, TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
      }
      await().atMost(WAIT).until(() -> c.collector.store().recordsWritten() == 5000);
      Set<String> got = payloads(c.records());
      assertThat(got).hasSize(5000).contains("c0-r0", "c499-r9");
      assertThat(c.collector.tcpCounters().partialBytesDropped()).isZero();
    }
  }

  /**
   * With the store writer held, a fast sender fills the queue, the collector stops reading, the
   * kernel window closes and the sender's writes stop going through; the queue never passes its
   * bound; once the writer is released every record arrives, once.
   */
  @Test
  void aHeldStoreBlocksAFastSenderAndLosesNothingOnceReleased() throws Exception {
    WriteGate.Manual gate = WriteGate.Manual.held();
    String yaml = "queue: {capacity_bytes: 1MiB, high_watermark_bytes: 512KiB,"
        + " low_watermark_bytes: 128KiB}\ntcp: {host: 127.0.0.1, port: 0, max_read_bytes: 16KiB}";
    try (CollectorFixture c = new CollectorFixture(dir, yaml, Clock.system(), gate)) {
      AtomicLong maxQueued = new AtomicLong();
      long sent = 0;
      try (SocketChannel ch = SocketChannel.open(
          new InetSocketAddress("127.0.0.1", c.collector.tcpPort()))) {
        ch.configureBlocking(false);
        ByteBuffer frame = ByteBuffer.allocate(4 + 100);
        int zeroWritesInARow = 0;
        long giveUp = System.nanoTime() + WAIT.toNanos(); // a guard against hanging, not a timing

        // keep writing whole records until the kernel refuses more many times in a row while
        // the collector is paused: the sender is blocked
        while (zeroWritesInARow < 200 || !c.collector.queue().isPaused()) {
          assertThat(System.nanoTime()).as("sender never blocked").isLessThan(giveUp);
          if (!frame.hasRemaining() || frame.position() == 0) {
            if (!frame.hasRemaining()) {
              sent++;
            }
            frame.clear();
            byte[] p = String.format("%0100d", sent).getBytes(StandardCharsets.US_ASCII);
            frame.putInt(p.length).put(p).flip();
          }
          int n = ch.write(frame);
          zeroWritesInARow = n == 0 ? zeroWritesInARow + 1 : 0;
          maxQueued.accumulateAndGet(c.collector.queue().queuedBytes(), Math::max);
          if (n == 0) {
            // nothing to do but look again: the condition we wait for is the blocked sender
            Thread.onSpinWait();
          }
        }
        assertThat(c.collector.tcpCounters().pausedConnections()).isEqualTo(1);
        // finish the record in flight so every sent record is whole, then close
        ch.configureBlocking(true);
        gate.release();
        while (frame.hasRemaining()) {
          ch.write(frame);
        }
        if (frame.position() > 0) {
          sent++;
        }
      }
      assertThat(maxQueued.get()).isLessThanOrEqualTo(c.collector.queue().capacityBytes());
      long expected = sent;
      await().atMost(WAIT).until(() -> c.collector.store().recordsWritten() == expected);
      assertThat(payloads(c.records())).hasSize((int) expected);
      assertThat(c.collector.queue().pauses()).isPositive();
    }
  }

  /**
   * Shutdown with a full queue and a held writer: every record the collector received and every
   * batch it accepted is in the store at the end, and the accepted Send call is acknowledged.
   */
  @Test
  void shutdownWithAFullQueueStoresEverythingReceived() throws Exception {
    WriteGate.Manual gate = WriteGate.Manual.held();
    // Reads of at most 16 KiB make chunks far smaller than the 128 KiB between the high
    // watermark and the capacity, so the queue pauses before it refuses one. (With 64 KiB reads
    // a chunk's buffer can reach ~138 KiB: refused below the watermark, the connection then waits
    // for a commit the held writer never makes, and the queue never reports itself paused.)
    String yaml = "queue: {capacity_bytes: 256KiB, high_watermark_bytes: 128KiB,"
        + " low_watermark_bytes: 64KiB}\ntcp: {host: 127.0.0.1, port: 0, max_read_bytes: 16KiB}";
    CollectorFixture c = new CollectorFixture(dir, yaml, Clock.system(), gate);
    try {
      ManagedChannel ch = c.channel();
      var reg = c.register(ch, c.createProject("web"), "h");
      var stub = CollectorFixture.withToken(LogServiceGrpc.newStub(ch), reg.getAccessToken());
      CompletableFuture<Empty> ack = GrpcIngestIntegrationTest.send(stub,
          GrpcIngestIntegrationTest.batch("f1", 0, "grpc-1", "grpc-2"));
      await().atMost(WAIT).until(() -> c.collector.grpcCounters().records() == 2);

      try (Socket s = new Socket("127.0.0.1", c.collector.tcpPort())) {
        s.getOutputStream().write(FrameEncoder.encode(new byte[0])); // keep the connection busy
        OutputStream out = s.getOutputStream();
        byte[] big = new byte[2000];
        java.util.Arrays.fill(big, (byte) 'x');
        for (int i = 0; i < 300; i++) { // ~600 KB: well past the queue's capacity
          out.write(FrameEncoder.encode(big));
        }
        await().atMost(WAIT).until(() -> c.collector.queue().isPaused()
            && c.collector.tcpCounters().pausedConnections() == 1);

        CompletableFuture<Void> stopped = c.collector.shutdown();
        gate.release();
        stopped.get(60, TimeUnit.SECONDS);
      }
      ack.get(30, TimeUnit.SECONDS);
      List<JsonNode> recs = c.records();
      long tcpStored = recs.stream().filter(r -> r.get("src").asText().equals("tcp")).count();
      assertThat(tcpStored).isEqualTo(c.collector.tcpCounters().recordsReceived());
      assertThat(tcpStored).isPositive();
      assertThat(recs.stream().filter(r -> r.get("src").asText().equals("grpc"))
          .map(r -> r.get("line").asText())).containsExactly("grpc-1", "grpc-2");
    } finally {
      gate.release(); // a failed wait above must not leave the writer held and close() hanging
      c.close();
    }
  }
}
