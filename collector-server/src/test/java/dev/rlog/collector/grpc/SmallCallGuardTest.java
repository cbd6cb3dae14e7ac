package dev.rlog.collector.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RefreshRequest;
import dev.rlog.proto.auth.RefreshResponse;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link SmallCallGuard} on the in-process transport with direct executors. */
class SmallCallGuardTest {
  private static final int CAP = 16 << 10;
  private static final long PERMIT = 1 << 20;

  /** An AuthService that answers Register only when the test says so. */
  static final class ParkedAuth extends AuthServiceGrpc.AuthServiceImplBase {
    final List<StreamObserver<RegisterResponse>> parked = new ArrayList<>();

    @Override
    public void register(RegisterRequest request, StreamObserver<RegisterResponse> response) {
      parked.add(response);
    }

    @Override
    public void refresh(RefreshRequest request, StreamObserver<RefreshResponse> response) {
      response.onNext(RefreshResponse.getDefaultInstance());
      response.onCompleted();
    }

    void answerFirst() {
      StreamObserver<RegisterResponse> r = parked.remove(0);
      r.onNext(RegisterResponse.getDefaultInstance());
      r.onCompleted();
    }
  }

  private final ParkedAuth auth = new ParkedAuth();
  private final ByteBudget inflight = new ByteBudget(2 * PERMIT, Runnable::run);
  private final FakeClock clock = new FakeClock();
  private final SmallCallGuard guard = new SmallCallGuard(inflight, PERMIT, CAP, clock);
  private Server server;
  private ManagedChannel channel;

  private void start(int maxAuthCalls) throws Exception {
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(guard.guard(auth.bindService(),
            new SmallCallGuard.Limit("grpc.max_auth_calls", maxAuthCalls)))
        .build().start();
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

  private CompletableFuture<RegisterResponse> register(String key) {
    CompletableFuture<RegisterResponse> f = new CompletableFuture<>();
    AuthServiceGrpc.newStub(channel).register(
        RegisterRequest.newBuilder().setProjectKey(key).build(), new StreamObserver<>() {
          @Override
          public void onNext(RegisterResponse value) {
            f.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            f.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    return f;
  }

  private static Status statusOf(CompletableFuture<?> f) {
    assertThat(f).isCompletedExceptionally();
    return f.handle((v, t) -> Status.fromThrowable(t)).join();
  }

  @Test
  void aRequestAboveTheCapIsRefusedAndNeverReachesTheService() throws Exception {
    start(8);

    CompletableFuture<RegisterResponse> call = register("k".repeat(1 << 20));

    Status st = statusOf(call);
    assertThat(st.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(st.getDescription()).contains("grpc.max_small_message_bytes");
    assertThat(auth.parked).isEmpty();
    assertThat(guard.tooLarge()).isEqualTo(1);
    assertThat(inflight.held()).isZero();
  }

  @Test
  void aRequestWithinTheCapIsServed() throws Exception {
    start(8);

    CompletableFuture<RegisterResponse> call = register("rlp_key");
    auth.answerFirst();

    assertThat(call).isCompleted();
    assertThat(inflight.held()).isZero();
  }

  @Test
  void callsBeyondTheLimitAreRefusedAtOnceAndTheLimitFreesWhenACallEnds() throws Exception {
    start(2);
    CompletableFuture<RegisterResponse> a = register("a");
    CompletableFuture<RegisterResponse> b = register("b");

    CompletableFuture<RegisterResponse> c = register("c");

    Status st = statusOf(c);
    assertThat(st.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(st.getDescription()).contains("grpc.max_auth_calls = 2");
    assertThat(guard.refusedBusy()).isEqualTo(1);

    auth.answerFirst();
    assertThat(a).isCompleted();
    CompletableFuture<RegisterResponse> d = register("d");
    assertThat(d).isNotDone();
    assertThat(auth.parked).hasSize(2);
    auth.answerFirst();
    auth.answerFirst();
    assertThat(b).isCompleted();
    assertThat(d).isCompleted();
  }

  @Test
  void theMessageIsReadOnlyOnceAReceivePermitIsFree() throws Exception {
    start(8);
    assertThat(inflight.acquireOrWait(2 * PERMIT, () -> {})).isTrue(); // Send calls hold it all

    CompletableFuture<RegisterResponse> call = register("a");
    assertThat(auth.parked).isEmpty(); // not read: the bytes stay in the stream's window
    assertThat(inflight.waiting()).isEqualTo(1);

    inflight.release(2 * PERMIT);
    assertThat(auth.parked).hasSize(1);
    auth.answerFirst();
    assertThat(call).isCompleted();
    assertThat(inflight.held()).isZero();
  }

  @Test
  void aGzipBombStopsInflatingAtTheCap() throws Exception {
    byte[] key = new byte[15 << 20];
    java.util.Arrays.fill(key, (byte) 'k');
    byte[] message = RegisterRequest.newBuilder()
        .setProjectKey(new String(key, java.nio.charset.StandardCharsets.US_ASCII)).build()
        .toByteArray();
    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
      out.write(message);
    }
    assertThat(gz.size()).isLessThan(64 << 10); // a few KiB on the wire
    long[] inflated = {0};
    InputStream counting = new FilterInputStream(
        new GZIPInputStream(new java.io.ByteArrayInputStream(gz.toByteArray()))) {
      @Override
      public int read() throws IOException {
        int b = super.read();
        inflated[0] += b < 0 ? 0 : 1;
        return b;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        int n = super.read(b, off, len);
        inflated[0] += Math.max(0, n);
        return n;
      }
    };

    RegisterRequest parsed = SmallCallGuard.capped(
        ProtoUtils.marshaller(RegisterRequest.getDefaultInstance()), CAP).parse(counting);

    assertThat(parsed).isNull();
    assertThat(inflated[0]).isLessThanOrEqualTo(CAP + 1);
  }

  @Test
  void aLimitBelowOneIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> new SmallCallGuard.Limit("k", 0));
    assertThrows(IllegalArgumentException.class,
        () -> new SmallCallGuard(new ByteBudget(10, Runnable::run), 11, CAP, clock));
  }

  @Test
  void budgetRefusesARequestAboveItsCapacityAndGrantsWaitersInOrder() {
    ByteBudget b = new ByteBudget(10, Runnable::run);
    List<String> granted = new ArrayList<>();
    assertThrows(IllegalArgumentException.class, () -> b.acquireOrWait(11, () -> {}));
    assertThat(b.acquireOrWait(8, () -> {})).isTrue();
    assertThat(b.acquireOrWait(5, () -> granted.add("five"))).isFalse();
    assertThat(b.acquireOrWait(1, () -> granted.add("one"))).isFalse(); // fits, but in line
    b.release(8);
    assertThat(granted).containsExactly("five", "one");
    assertThat(b.held()).isEqualTo(6);
    assertThrows(IllegalStateException.class, () -> b.release(7));
  }

  /** Starts a Register call that never sends its request message: it holds a receive permit. */
  private io.grpc.ClientCall<RegisterRequest, RegisterResponse> silentRegister(
      CompletableFuture<Status> closed) {
    io.grpc.ClientCall<RegisterRequest, RegisterResponse> c = channel.newCall(
        AuthServiceGrpc.getRegisterMethod(), io.grpc.CallOptions.DEFAULT);
    c.start(new io.grpc.ClientCall.Listener<>() {
      @Override
      public void onClose(Status status, io.grpc.Metadata trailers) {
        closed.complete(status);
      }
    }, new io.grpc.Metadata());
    c.request(1);
    return c;
  }

  @Test
  void callsHoldingAPermitIdleAreClosedOnlyWhileOthersWait() throws Exception {
    start(8);
    CompletableFuture<Status> idle1 = new CompletableFuture<>();
    CompletableFuture<Status> idle2 = new CompletableFuture<>();
    silentRegister(idle1);
    silentRegister(idle2);
    assertThat(inflight.held()).isEqualTo(2 * PERMIT);

    clock.advance(java.time.Duration.ofSeconds(60));
    assertThat(guard.closeIdleReceivers(java.time.Duration.ofSeconds(10)))
        .as("nobody waits: idle calls may keep their permits").isZero();

    CompletableFuture<RegisterResponse> waiting = register("a");
    assertThat(inflight.waiting()).isEqualTo(1);
    assertThat(guard.closeIdleReceivers(java.time.Duration.ofSeconds(61)))
        .as("not idle for long enough").isZero();

    assertThat(guard.closeIdleReceivers(java.time.Duration.ofSeconds(10))).isEqualTo(2);

    assertThat(idle1.join().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(idle2.join().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(guard.idleClosed()).isEqualTo(2);
    assertThat(auth.parked).hasSize(1); // the waiting call got a permit and was read
    auth.answerFirst();
    assertThat(waiting).isCompleted();
    assertThat(inflight.held()).isZero();
  }

  @Test
  void callsOnTheirOwnBudgetNeverTakeTheSharedOne() throws Exception {
    ByteBudget own = new ByteBudget(PERMIT, Runnable::run);
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(guard.guard(auth.bindService(),
            new SmallCallGuard.Limit("grpc.max_auth_calls", 8), own))
        .build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    CompletableFuture<Status> idle = new CompletableFuture<>();
    silentRegister(idle);
    assertThat(own.held()).isEqualTo(PERMIT);
    assertThat(inflight.held()).as("the shared budget").isZero();

    CompletableFuture<RegisterResponse> waiting = register("a"); // waits on the own budget only
    assertThat(own.waiting()).isEqualTo(1);
    assertThat(inflight.waiting()).isZero();
    clock.advance(java.time.Duration.ofSeconds(10));
    assertThat(guard.closeIdleReceivers(java.time.Duration.ofSeconds(10))).isEqualTo(1);
    assertThat(idle.join().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    auth.answerFirst();
    assertThat(waiting).isCompleted();
    assertThat(own.held()).isZero();
  }
}
