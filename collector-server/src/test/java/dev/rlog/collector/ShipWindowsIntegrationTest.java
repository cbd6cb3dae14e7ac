package dev.rlog.collector;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import dev.rlog.collector.grpc.ShipWindows;
import dev.rlog.common.time.Clock;
import dev.rlog.collector.store.WriteGate;
import dev.rlog.proto.log.Chunk;
import dev.rlog.proto.log.ChunkAck;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Wide HTTP/2 windows for agent connections, on a real collector over loopback: granted only to
 * connections whose Ship or Send call passed authentication, never beyond the budget, given back when
 * the connection closes; and a widened connection carries chunks far larger than the small
 * window, every line stored once.
 */
class ShipWindowsIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final int SMALL = 8 << 10;
  private static final int WIDE = 256 << 10;

  @TempDir Path dir;
  private CollectorFixture fx;
  private final List<StreamObserver<Chunk>> open = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (StreamObserver<Chunk> s : open) {
      try {
        s.onCompleted();
      } catch (RuntimeException ignored) {
        // already ended
      }
    }
    if (fx != null) {
      fx.close();
    }
  }

  /** One Ship stream; {@code acks} gets each ChunkAck's seq, {@code end} the call's status. */
  private StreamObserver<Chunk> ship(ManagedChannel ch, String token, List<Long> acks,
      CompletableFuture<Status> end) {
    StreamObserver<Chunk> s = CollectorFixture.withToken(LogServiceGrpc.newStub(ch), token)
        .ship(responses((ChunkAck ack) -> {
          synchronized (acks) {
            acks.add(ack.getSeq());
          }
        }, end));
    open.add(s);
    return s;
  }

  /** A response observer: each response to {@code next}, the call's status to {@code end}. */
  private static <T> StreamObserver<T> responses(Consumer<T> next, CompletableFuture<Status> end) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        next.accept(value);
      }

      @Override
      public void onError(Throwable t) {
        end.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        end.complete(Status.OK);
      }
    };
  }

  private static Chunk chunk(long seq, String fid, long offset, int lines, int lineBytes) {
    byte[] data = new byte[lines * lineBytes];
    Chunk.Builder c = Chunk.newBuilder().setSeq(seq).setLabel("app").setFileInstance(fid)
        .setStartOffset(offset);
    for (int i = 0; i < lines; i++) {
      byte[] line = String.format("%0" + (lineBytes - 1) + "d\n", offset / lineBytes + i)
          .getBytes(UTF_8);
      System.arraycopy(line, 0, data, i * lineBytes, lineBytes);
      c.addLineLengths(lineBytes);
    }
    return c.setData(ByteString.copyFrom(data)).build();
  }

  private static void awaitAck(List<Long> acks, long seq) {
    await().atMost(WAIT).until(() -> {
      synchronized (acks) {
        return acks.contains(seq);
      }
    });
  }

  private List<Integer> windows() throws Exception {
    return fx.collector.shipWindows().connectionWindows().get(30, TimeUnit.SECONDS).stream()
        .sorted().toList();
  }

  @Test
  void onlyAuthenticatedShipConnectionsAreWidenedWithinTheBudgetUntilTheyClose()
      throws Exception {
    fx = new CollectorFixture(dir, "grpc: {host: 127.0.0.1, port: 0, flow_control_window: 8KiB,"
        + " ship_window: 256KiB, ship_windows_budget: 512KiB}", Clock.system(), WriteGate.OPEN);
    String key = fx.createProject("web");
    ManagedChannel a = fx.channel();
    ManagedChannel b = fx.channel();
    ManagedChannel c = fx.channel();
    String tokenA = fx.register(a, key, "host-a").getAccessToken();
    String tokenB = fx.register(b, key, "host-b").getAccessToken();
    String tokenC = fx.register(c, key, "host-c").getAccessToken();
    ShipWindows w = fx.collector.shipWindows();
    assertThat(windows()).containsExactly(SMALL, SMALL, SMALL); // Register widens nothing

    // A: an authenticated Ship call widens its connection, and 1 MiB chunks (128 windows of
    // 8 KiB each) go through it
    List<Long> acksA = new ArrayList<>();
    StreamObserver<Chunk> shipA = ship(a, tokenA, acksA, new CompletableFuture<>());
    shipA.onNext(chunk(1, "fa", 0, 4096, 256));
    awaitAck(acksA, 1);
    assertThat(w.grantedBytes()).isEqualTo(WIDE);
    assertThat(windows()).containsExactly(SMALL, SMALL, WIDE);
    shipA.onNext(chunk(2, "fa", 4096L * 256, 4096, 256));
    awaitAck(acksA, 2);

    // B: a Ship call with a bad token is refused before it can widen anything
    CompletableFuture<Status> badEnd = new CompletableFuture<>();
    ship(b, "not-a-token", new ArrayList<>(), badEnd).onNext(chunk(1, "fb", 0, 1, 16));
    assertThat(badEnd.get(30, TimeUnit.SECONDS).getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(w.grantedBytes()).isEqualTo(WIDE);

    // B with its token: the second grant, which spends the budget
    List<Long> acksB = new ArrayList<>();
    ship(b, tokenB, acksB, new CompletableFuture<>()).onNext(chunk(1, "fb", 0, 1, 16));
    awaitAck(acksB, 1);
    assertThat(w.grantedBytes()).isEqualTo(2L * WIDE);

    // C: the budget is spent, so C keeps the small window; its lines are stored all the same
    List<Long> acksC = new ArrayList<>();
    StreamObserver<Chunk> shipC = ship(c, tokenC, acksC, new CompletableFuture<>());
    shipC.onNext(chunk(1, "fc", 0, 1024, 256));
    awaitAck(acksC, 1);
    assertThat(w.refused()).isEqualTo(1);
    assertThat(w.grantedBytes()).isEqualTo(2L * WIDE);
    assertThat(windows()).containsExactly(SMALL, WIDE, WIDE);

    // A's connection closes: its grant comes back, and C's next Ship call on a new stream gets it
    shipA.onCompleted();
    open.remove(shipA);
    a.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    await().atMost(WAIT).until(() -> w.grantedBytes() == WIDE);
    shipC.onCompleted();
    open.remove(shipC);
    List<Long> acksC2 = new ArrayList<>();
    ship(c, tokenC, acksC2, new CompletableFuture<>()).onNext(chunk(1, "fc", 1024L * 256, 4096,
        256));
    awaitAck(acksC2, 1);
    assertThat(w.grantedBytes()).isEqualTo(2L * WIDE);
    assertThat(windows()).containsExactly(WIDE, WIDE);

    // every line once: 2 x 4,096 of A, 1 of B, 1,024 + 4,096 of C
    assertThat(fx.records()).hasSize(2 * 4096 + 1 + 1024 + 4096);
  }

  @Test
  void oneAgentWidensAtMostTwoOfItsConnections() throws Exception {
    fx = new CollectorFixture(dir, "grpc: {host: 127.0.0.1, port: 0}", Clock.system(),
        WriteGate.OPEN);
    String key = fx.createProject("web");
    List<ManagedChannel> chs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      chs.add(fx.channel());
    }
    String token = fx.register(chs.get(0), key, "greedy-host").getAccessToken();
    for (int i = 0; i < 4; i++) {
      List<Long> acks = new ArrayList<>();
      ship(chs.get(i), token, acks, new CompletableFuture<>())
          .onNext(chunk(1, "g" + i, 0, 1, 16));
      awaitAck(acks, 1);
    }
    ShipWindows w = fx.collector.shipWindows();
    assertThat(w.grantedBytes()).isEqualTo((long) ShipWindows.GRANTS_PER_AGENT * WIDE);
    assertThat(w.refused()).isEqualTo(4 - ShipWindows.GRANTS_PER_AGENT);
    assertThat(windows()).containsExactly(SMALL, SMALL, WIDE, WIDE);
  }

  @Test
  void anAuthenticatedSendCallWidensItsConnectionToo() throws Exception {
    fx = new CollectorFixture(dir, "grpc: {host: 127.0.0.1, port: 0}", Clock.system(),
        WriteGate.OPEN);
    String key = fx.createProject("web");
    ManagedChannel ch = fx.channel();
    String token = fx.register(ch, key, "original-agent").getAccessToken();
    CompletableFuture<Status> end = new CompletableFuture<>();
    StreamObserver<dev.rlog.proto.log.LogBatch> send = CollectorFixture.withToken(
        LogServiceGrpc.newStub(ch), token).send(
            responses((com.google.protobuf.Empty value) -> { }, end));
    send.onNext(dev.rlog.proto.log.LogBatch.newBuilder().addLogs(dev.rlog.proto.log.Log
        .newBuilder().setLabel("app").setLine("a line").setFileInstance("s").setOffset(0)).build());
    send.onCompleted();
    assertThat(end.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.OK);
    assertThat(fx.collector.shipWindows().grantedBytes()).isEqualTo(WIDE);
    assertThat(windows()).containsExactly(WIDE);
    assertThat(fx.records()).hasSize(1);
  }
}
