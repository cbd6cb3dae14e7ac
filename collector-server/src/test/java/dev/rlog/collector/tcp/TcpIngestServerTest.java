package dev.rlog.collector.tcp;

import static dev.rlog.collector.tcp.TestClients.closedByServer;
import static dev.rlog.collector.tcp.TestClients.connect;
import static dev.rlog.collector.tcp.TestClients.frames;
import static dev.rlog.collector.tcp.TestClients.header;
import static dev.rlog.collector.tcp.TestClients.localPeer;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.common.time.FakeClock;
import dev.rlog.common.wire.FrameEncoder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TcpIngestServerTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  /** 1_700_000_000_000 ms, as the store formats it. */
  private static final String FAKE_RECV = "2023-11-14T22:13:20.000Z";

  private final FakeClock clock = new FakeClock();
  private final TcpIngestCounters counters = new TcpIngestCounters();
  private IngestQueue queue;
  private TestWriter writer;
  private TcpIngestServer server;

  @BeforeEach
  void setUp() {
    // roomy: these tests are about framing and connections, not backpressure
    queue = new IngestQueue(64 << 20, 1_000_000, 32 << 20, 16 << 20, 500_000, 250_000);
    writer = new TestWriter(queue);
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      if (server != null) {
        server.close();
      }
    } finally {
      writer.close();
      queue.close();
    }
    assertThat(writer.failure()).isNull();
  }

  private TcpIngestServer start(TcpIngestOptions options) throws Exception {
    server = new TcpIngestServer(options, queue, clock, counters);
    server.start();
    return server;
  }

  private static TcpIngestOptions loopback() {
    return TcpIngestOptions.defaults().withHost("127.0.0.1").withPort(0).withWorkerThreads(2);
  }

  @ParameterizedTest(name = "native transport: {0}")
  @ValueSource(booleans = {true, false})
  void manyShortConnectionsDeliverEveryRecordOnceAndInOrder(boolean nativeTransport)
      throws Exception {
    int port = start(loopback().withNativeTransport(nativeTransport)).port();
    int connections = 500;
    int perConnection = 10;

    ExecutorService clients = Executors.newFixedThreadPool(8);
    try {
      List<Future<String>> peers = new ArrayList<>();
      for (int c = 0; c < connections; c++) {
        int conn = c;
        peers.add(clients.submit(() -> sendAndClose(port, conn, perConnection)));
      }
      for (Future<String> f : peers) {
        f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      }
    } finally {
      clients.shutdownNow();
    }

    await().atMost(WAIT).until(() -> writer.count() == connections * perConnection);
    Map<Integer, List<Integer>> byConnection = new LinkedHashMap<>();
    Map<Integer, Set<String>> peersByConnection = new LinkedHashMap<>();
    Set<String> distinct = new HashSet<>();
    Pattern p = Pattern.compile("conn-(\\d+)-rec-(\\d+)");
    for (TestWriter.Stored s : writer.stored()) {
      Matcher m = p.matcher(s.text());
      assertThat(m.matches()).as(s.text()).isTrue();
      int conn = Integer.parseInt(m.group(1));
      byConnection.computeIfAbsent(conn, k -> new ArrayList<>()).add(Integer.parseInt(m.group(2)));
      peersByConnection.computeIfAbsent(conn, k -> new HashSet<>()).add(s.peer());
      distinct.add(s.text());
      assertThat(s.src()).isEqualTo("tcp");
      assertThat(s.recv()).isEqualTo(FAKE_RECV);
    }
    assertThat(distinct).hasSize(connections * perConnection);
    assertThat(byConnection).hasSize(connections);
    List<Integer> inOrder = new ArrayList<>();
    for (int i = 0; i < perConnection; i++) {
      inOrder.add(i);
    }
    byConnection.forEach((conn, recs) -> assertThat(recs).as("conn %d", conn).isEqualTo(inOrder));
    peersByConnection.forEach((conn, ps) -> assertThat(ps).as("conn %d", conn).hasSize(1));

    await().atMost(WAIT).until(() -> counters.connectionsClosed() == connections);
    assertThat(counters.connectionsOpened()).isEqualTo(connections);
    assertThat(counters.recordsReceived()).isEqualTo(connections * perConnection);
    assertThat(counters.partialBytesDropped()).isZero();
    assertThat(counters.pausedConnections()).isZero();
    await().atMost(WAIT).until(() -> server.liveConnections() == 0);
  }

  /** Sends the records in one of three write patterns, so headers split on the wire too. */
  private static String sendAndClose(int port, int conn, int records) throws IOException {
    ByteArrayOutputStream wire = new ByteArrayOutputStream();
    for (int r = 0; r < records; r++) {
      wire.writeBytes(FrameEncoder.encode(("conn-" + conn + "-rec-" + r).getBytes(UTF_8)));
    }
    byte[] bytes = wire.toByteArray();
    try (Socket s = connect(port)) {
      OutputStream out = s.getOutputStream();
      switch (conn % 3) {
        case 0 -> out.write(bytes);
        case 1 -> {
          for (int i = 0; i < bytes.length; i += 3) {
            out.write(bytes, i, Math.min(3, bytes.length - i));
          }
        }
        default -> {
          out.write(bytes, 0, 2);
          out.write(bytes, 2, bytes.length - 2);
        }
      }
      return localPeer(s);
    }
  }

  @Test
  void oversizedRecordClosesOnlyThatConnection() throws Exception {
    int port = start(loopback().withMaxFrameLength(1024)).port();

    try (Socket steady = connect(port)) {
      String[] firstHalf = new String[100];
      String[] secondHalf = new String[100];
      for (int i = 0; i < 100; i++) {
        firstHalf[i] = "steady-" + i;
        secondHalf[i] = "steady-" + (100 + i);
      }
      steady.getOutputStream().write(frames(firstHalf));
      await().atMost(WAIT).until(() -> writer.count() == 100);

      try (Socket bad = connect(port)) {
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        wire.writeBytes(frames("good-1", "good-2", "good-3"));
        wire.writeBytes(header(1025));
        wire.writeBytes(new byte[1025]);
        bad.getOutputStream().write(wire.toByteArray());

        assertThat(closedByServer(bad)).isTrue();
      }
      await().atMost(WAIT).until(() -> counters.framesTooLarge() == 1);

      // the steady connection is unaffected
      steady.getOutputStream().write(frames(secondHalf));
    }

    try (Socket later = connect(port)) {
      later.getOutputStream().write(frames("later-1", "later-2"));
    }

    await().atMost(WAIT).until(() -> writer.count() == 200 + 3 + 2);
    List<String> texts = writer.stored().stream().map(TestWriter.Stored::text).toList();
    List<String> steadyTexts = texts.stream().filter(t -> t.startsWith("steady-")).toList();
    assertThat(steadyTexts).hasSize(200);
    for (int i = 0; i < 200; i++) {
      assertThat(steadyTexts.get(i)).isEqualTo("steady-" + i);
    }
    // records before the bad header were well formed, so they are stored
    assertThat(texts).containsSubsequence("good-1", "good-2", "good-3");
    assertThat(texts).contains("later-1", "later-2");
    assertThat(counters.framesTooLarge()).isEqualTo(1);
    assertThat(counters.connectionsOpened()).isEqualTo(3);
    await().atMost(WAIT).until(() -> counters.openConnections() == 0);
    // the oversized record is counted as such, not as a partial record
    assertThat(counters.partialRecordsDropped()).isZero();
  }

  @Test
  void emptyAndNonUtf8PayloadsAreStoredLosslessly() throws Exception {
    int port = start(loopback()).port();
    byte[] binary = {(byte) 0xff, (byte) 0xfe, 0x00, (byte) 0x80, 'x'};
    byte[][] payloads = {
      new byte[0],
      "plain".getBytes(UTF_8),
      new byte[0],
      binary,
      "quote\" backslash\\ newline\n tab\t nul\0".getBytes(UTF_8),
      "héllo € 😀".getBytes(UTF_8),
    };

    String peer;
    try (Socket s = connect(port)) {
      peer = localPeer(s);
      s.getOutputStream().write(FrameEncoder.encodeAll(payloads));
    }

    await().atMost(WAIT).until(() -> writer.count() == payloads.length);
    List<TestWriter.Stored> stored = writer.stored();
    for (int i = 0; i < payloads.length; i++) {
      assertThat(stored.get(i).payload()).as("record %d", i).isEqualTo(payloads[i]);
      assertThat(stored.get(i).peer()).isEqualTo(peer);
      assertThat(stored.get(i).recv()).isEqualTo(FAKE_RECV);
    }
    assertThat(stored.get(0).base64()).isFalse();
    assertThat(stored.get(3).base64()).isTrue();
    assertThat(stored.get(5).base64()).isFalse();
  }

  @Test
  void incompleteRecordAtCloseIsCountedAndNotStored() throws Exception {
    int port = start(loopback()).port();

    try (Socket s = connect(port)) {
      ByteArrayOutputStream wire = new ByteArrayOutputStream();
      wire.writeBytes(frames("whole-1", "whole-2", "whole-3"));
      wire.writeBytes(header(100));
      wire.writeBytes(new byte[10]);
      s.getOutputStream().write(wire.toByteArray());
    }
    await().atMost(WAIT).until(() -> counters.connectionsClosed() == 1);
    assertThat(counters.partialRecordsDropped()).isEqualTo(1);
    assertThat(counters.partialBytesDropped()).isEqualTo(4 + 10);

    try (Socket s = connect(port)) {
      ByteArrayOutputStream wire = new ByteArrayOutputStream();
      wire.writeBytes(frames("whole-4"));
      wire.writeBytes(new byte[] {0, 0}); // half a header
      s.getOutputStream().write(wire.toByteArray());
    }
    await().atMost(WAIT).until(() -> counters.connectionsClosed() == 2);
    assertThat(counters.partialRecordsDropped()).isEqualTo(2);
    assertThat(counters.partialBytesDropped()).isEqualTo(14 + 2);

    // everything read was offered before the close was seen: the queue is the whole truth now
    await().atMost(WAIT).until(() -> queue.isIdle());
    assertThat(writer.stored()).extracting(TestWriter.Stored::text)
        .containsExactly("whole-1", "whole-2", "whole-3", "whole-4");
  }

  @Test
  void oneReadIsHandedOverAsOneChunkNotRecordByRecord() throws Exception {
    int port = start(loopback()).port();
    String[] payloads = new String[2000];
    for (int i = 0; i < payloads.length; i++) {
      payloads[i] = "r" + i;
    }

    try (Socket s = connect(port)) {
      s.getOutputStream().write(frames(payloads));
    }

    await().atMost(WAIT).until(() -> writer.count() == payloads.length);
    // ~14 KB on the wire: a handful of reads, never thousands of hand-offs
    assertThat(writer.chunks()).isLessThan(20);
    assertThat(writer.stored()).extracting(TestWriter.Stored::text).containsExactly(payloads);
  }

  @Test
  void smallReadBoundStillDecodesLargeRecordsAcrossReads() throws Exception {
    // 512-byte reads, 10 KB records: every record is assembled from many reads
    int port = start(loopback().withMaxReadBytes(512).withMaxFrameLength(16 << 10)).port();
    byte[][] payloads = new byte[5][];
    for (int i = 0; i < payloads.length; i++) {
      payloads[i] = ("big-" + i + "-" + "x".repeat(10_000)).getBytes(UTF_8);
    }

    try (Socket s = connect(port)) {
      s.getOutputStream().write(FrameEncoder.encodeAll(payloads));
    }

    await().atMost(WAIT).until(() -> writer.count() == payloads.length);
    List<TestWriter.Stored> stored = writer.stored();
    for (int i = 0; i < payloads.length; i++) {
      assertThat(stored.get(i).payload()).isEqualTo(payloads[i]);
    }
  }

  @Test
  void lifecycle() throws Exception {
    TcpIngestServer s = new TcpIngestServer(loopback(), queue, clock, TcpIngestMetrics.NOOP);
    try {
      assertThrows(IllegalStateException.class, s::port);
      s.start();
      assertThat(s.port()).isPositive();
      assertThrows(IllegalStateException.class, s::start);

      // idle: stops at once, and every call returns the same future
      var first = s.shutdown();
      assertThat(s.shutdown()).isSameAs(first);
      first.get(10, TimeUnit.SECONDS);
      assertThrows(IllegalStateException.class, s::start);
    } finally {
      s.close();
    }

    TcpIngestServer neverStarted = new TcpIngestServer(loopback(), queue, clock, counters);
    neverStarted.shutdown().get(1, TimeUnit.SECONDS);
  }

  @Test
  void portInUseFailsStartWithTheAddress() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1,
        java.net.InetAddress.getByName("127.0.0.1"))) {
      TcpIngestServer s = new TcpIngestServer(loopback().withPort(taken.getLocalPort()), queue,
          clock, counters);
      try {
        IOException e = assertThrows(IOException.class, s::start);
        assertThat(e.getMessage()).contains("127.0.0.1:" + taken.getLocalPort());
      } finally {
        s.close();
      }
    }
  }

  @Test
  void optionsAreValidated() {
    TcpIngestOptions ok = loopback();
    assertThrows(IllegalArgumentException.class, () -> ok.withPort(65_536));
    assertThrows(IllegalArgumentException.class, () -> ok.withPort(-1));
    assertThrows(IllegalArgumentException.class, () -> ok.withHost(" "));
    assertThrows(IllegalArgumentException.class, () -> ok.withMaxFrameLength(-1));
    assertThrows(IllegalArgumentException.class, () -> ok.withWorkerThreads(0));
    assertThrows(IllegalArgumentException.class, () -> ok.withMaxReadBytes(100));
    assertThat(TcpIngestOptions.defaults().port()).isEqualTo(9000);
    assertThat(TcpIngestOptions.defaults().maxFrameLength()).isEqualTo(1 << 20);
    assertThat(TcpIngestOptions.defaults().maxReadBytes()).isEqualTo(64 << 10);
  }

  @Test
  void peerNamesBracketIpv6() throws Exception {
    assertThat(FrameIngestHandler.peerOf(new java.net.InetSocketAddress(
        java.net.InetAddress.getByName("::1"), 4000))).isEqualTo("[0:0:0:0:0:0:0:1]:4000");
    assertThat(FrameIngestHandler.peerOf(new java.net.InetSocketAddress(
        java.net.InetAddress.getByName("10.1.2.3"), 5))).isEqualTo("10.1.2.3:5");
  }
}
