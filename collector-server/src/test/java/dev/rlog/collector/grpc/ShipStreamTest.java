package dev.rlog.collector.grpc;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.rlog.collector.auth.AgentIdentity;
import dev.rlog.collector.auth.AuthInterceptor;
import dev.rlog.collector.auth.VerifiedToken;
import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.collector.store.PositionTable;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.log.Chunk;
import dev.rlog.proto.log.ChunkAck;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code LogService.Ship} on the in-process transport with direct executors and a hand-driven
 * store writer: acks only after the commit, and each line stored once when a stream breaks
 * mid-window and its chunks come again on the next stream.
 */
class ShipStreamTest {
  private static final int MAX_MESSAGE = 256 << 10;
  private static final Pattern RECORD = Pattern.compile(
      "\"fid\":\"([^\"]*)\",\"off\":(\\d+),\"(line|line_b64)\":\"([^\"]*)\"}");

  private final FakeClock clock = new FakeClock();
  private final GrpcIngestCounters counters = new GrpcIngestCounters();
  private final List<String> stored = new ArrayList<>();
  private IngestQueue queue;
  private Server server;
  private ManagedChannel channel;

  private void start(long queueBytes) throws Exception {
    queue = new IngestQueue(queueBytes, 1_000_000, queueBytes * 3 / 4, queueBytes / 4, 750_000,
        250_000);
    LogServiceImpl service = new LogServiceImpl(queue,
        new PositionFilter(new PositionTable(clock, Duration.ofDays(7), 1000)),
        uuid -> "host", clock, Runnable::run, counters, token -> null,
        new LogServiceImpl.SendBounds(new ByteBudget(4L * MAX_MESSAGE, Runnable::run),
            new ByteBudget(1 << 20, Runnable::run), MAX_MESSAGE));
    ServerInterceptor identity = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        AgentIdentity id = new AgentIdentity("agent-1", "web");
        return Contexts.interceptCall(Context.current().withValue(AuthInterceptor.IDENTITY, id)
            .withValue(AuthInterceptor.TOKEN, new VerifiedToken(id, 0, Instant.MAX)), call,
            headers, next);
      }
    };
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(service, identity)).build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** One client stream: what it was acked and how it ended. */
  private final class Stream {
    final List<Long> acks = new CopyOnWriteArrayList<>();
    final CompletableFuture<Status> closed = new CompletableFuture<>();
    final StreamObserver<Chunk> requests;

    Stream() {
      requests = LogServiceGrpc.newStub(channel).ship(new StreamObserver<>() {
        @Override
        public void onNext(ChunkAck ack) {
          acks.add(ack.getSeq());
        }

        @Override
        public void onError(Throwable t) {
          closed.complete(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
          closed.complete(Status.OK);
        }
      });
    }

    void send(long seq, Chunk c) {
      requests.onNext(c.toBuilder().setSeq(seq).build());
    }

    long lastAck() {
      return acks.isEmpty() ? 0 : acks.get(acks.size() - 1);
    }
  }

  /** Lines {@code from..to-1} of file "f" ("line-i\n", every third with CRLF) as one chunk. */
  private static Chunk lines(int from, int to) {
    Chunk.Builder c = Chunk.newBuilder().setLabel("app").setFileInstance("f")
        .setStartOffset(offsetOf(from));
    StringBuilder data = new StringBuilder();
    for (int i = from; i < to; i++) {
      String line = text(i) + (i % 3 == 0 ? "\r\n" : "\n");
      data.append(line);
      c.addLineLengths(line.length());
    }
    return c.setData(ByteString.copyFromUtf8(data.toString())).build();
  }

  private static String text(int i) {
    return String.format("line-%04d", i);
  }

  private static long offsetOf(int line) {
    long off = 0;
    for (int i = 0; i < line; i++) {
      off += text(i).length() + (i % 3 == 0 ? 2 : 1);
    }
    return off;
  }

  /** What the store writer does, by hand: takes everything queued and reports it committed. */
  private void writeAll() throws InterruptedException {
    List<IngestQueue.Entry> out = new ArrayList<>();
    queue.drain(out, 0, TimeUnit.NANOSECONDS);
    long bytes = 0;
    long records = 0;
    long seq = 0;
    for (IngestQueue.Entry e : out) {
      bytes += e.chunk().footprint();
      records += e.chunk().records();
      seq = e.seq();
      Matcher m = RECORD.matcher(new String(e.chunk().bytes(), 0, e.chunk().length(), UTF_8));
      while (m.find()) {
        stored.add(m.group(2) + ":" + (m.group(3).equals("line") ? m.group(4)
            : "b64=" + new String(Base64.getDecoder().decode(m.group(4)), UTF_8)));
      }
    }
    if (!out.isEmpty()) {
      queue.committed(seq, bytes, records);
    }
  }

  private static List<String> expected(int from, int to) {
    List<String> out = new ArrayList<>();
    for (int i = from; i < to; i++) {
      out.add(offsetOf(i) + ":" + text(i));
    }
    return out;
  }

  @Test
  void acksComeOnlyAfterTheCommitAndAreCumulative() throws Exception {
    start(32 << 20);
    Stream s = new Stream();
    s.send(1, lines(0, 10));
    s.send(2, lines(10, 20));
    assertThat(s.acks).isEmpty(); // queued, not committed

    writeAll();

    assertThat(s.lastAck()).isEqualTo(2);
    assertThat(stored).containsExactlyElementsOf(expected(0, 20));
    s.requests.onCompleted();
    assertThat(s.closed.join().isOk()).isTrue();
  }

  @Test
  void aStreamBrokenMidWindowLosesNothingAndStoresNothingTwice() throws Exception {
    start(32 << 20);
    Stream first = new Stream();
    for (int k = 0; k < 4; k++) {
      first.send(k + 1, lines(10 * k, 10 * k + 10));
    }
    first.requests.onError(new RuntimeException("agent lost the connection"));
    assertThat(first.acks).isEmpty();

    // The agent sends its unacknowledged chunks again, numbered from 1, while the first
    // stream's copies are still waiting for the writer, then goes on with new lines.
    Stream second = new Stream();
    for (int k = 0; k < 5; k++) {
      second.send(k + 1, lines(10 * k, 10 * k + 10));
    }
    writeAll();

    assertThat(second.lastAck()).isEqualTo(5);
    assertThat(stored).containsExactlyElementsOf(expected(0, 50));
    assertThat(counters.duplicatesSkipped()).isEqualTo(40);
  }

  @Test
  void aChunkHeldForRoomWhenItsStreamBreaksIsStoredFromTheResend() throws Exception {
    start(4096); // one chunk at a time: the next waits, held, for the writer
    Stream first = new Stream();
    first.send(1, lines(0, 10));
    first.send(2, lines(10, 20));
    first.requests.onError(new RuntimeException("gone"));

    Stream second = new Stream();
    second.send(1, lines(0, 10));
    second.send(2, lines(10, 20));
    second.send(3, lines(20, 30));
    for (int i = 0; i < 10 && second.lastAck() < 3; i++) {
      writeAll();
    }

    assertThat(second.lastAck()).isEqualTo(3);
    assertThat(stored).containsExactlyElementsOf(expected(0, 30));
  }

  @Test
  void bytesThatAreNotUtf8AreStoredLosslessly() throws Exception {
    start(32 << 20);
    byte[] data = {'o', 'k', '\n', 'b', 'a', 'd', (byte) 0xff, '\n'};
    Stream s = new Stream();
    s.send(1, Chunk.newBuilder().setFileInstance("f").setData(ByteString.copyFrom(data))
        .addLineLengths(3).addLineLengths(5).build());
    writeAll();

    assertThat(stored).hasSize(2);
    assertThat(stored.get(0)).isEqualTo("0:ok");
    assertThat(stored.get(1)).startsWith("3:b64=bad");
    assertThat(s.lastAck()).isEqualTo(1);
  }

  @Test
  void aChunkOutOfSequenceOrMalformedEndsTheStreamWithInvalidArgument() throws Exception {
    start(32 << 20);
    Stream skipped = new Stream();
    skipped.send(2, lines(0, 10));
    Status st = skipped.closed.join();
    assertThat(st.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(st.getDescription()).contains("seq 2, expected 1");

    Stream bad = new Stream();
    bad.send(1, lines(0, 10).toBuilder().addLineLengths(1).build());
    assertThat(bad.closed.join().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    writeAll();
    assertThat(stored).isEmpty();
  }

  @Test
  void aChunkWithALabelOrFileInstanceOverTheCapEndsTheStreamWithInvalidArgument()
      throws Exception {
    start(32 << 20);
    Stream label = new Stream();
    label.send(1, lines(0, 10).toBuilder().setLabel("l".repeat(QuotedStrings.MAX_LABEL_BYTES + 1))
        .build());
    Status st = label.closed.get(30, TimeUnit.SECONDS);
    assertThat(st.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(st.getDescription()).contains("label of " + (QuotedStrings.MAX_LABEL_BYTES + 1));

    Stream fid = new Stream();
    fid.send(1, lines(0, 10).toBuilder()
        .setFileInstance("f".repeat(PositionFilter.MAX_FILE_INSTANCE_BYTES + 1)).build());
    st = fid.closed.get(30, TimeUnit.SECONDS);
    assertThat(st.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(st.getDescription()).contains("file_instance of");
    writeAll();
    assertThat(stored).isEmpty();
  }

  @Test
  void aChunkOfEmptyLinesIsRefusedAtItsStoreSizeBeforeItIsExpanded() throws Exception {
    start(32 << 20);
    Chunk.Builder c = Chunk.newBuilder().setFileInstance("f");
    for (int i = 0; i < 20_000; i++) {
      c.addLineLengths(1);
    }
    c.setData(ByteString.copyFromUtf8("\n".repeat(20_000)));
    Stream s = new Stream();
    s.send(1, c.build());

    Status st = s.closed.join();
    assertThat(st.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(st.getDescription()).contains("max_batch_store_bytes");
    assertThat(queue.lastSeq()).isZero();
  }
}
