package dev.rlog.agent.ship;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Empty;
import dev.rlog.agent.auth.BearerTokenInterceptor;
import dev.rlog.agent.batch.Batcher;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.log.LogBatch;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
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
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link GrpcLogTransport} against an in-process LogService: order, the token on the call, the
 * status the call ends with, a collector that takes one message at a time, the deadline and
 * cancellation; and one {@link Shipper} over it, renewing a refused token. The bounded {@code
 * get}s only keep a broken build from hanging.
 */
class GrpcLogTransportTest {
  private static final long BOUND_MS = 10_000;
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private final String name = InProcessServerBuilder.generateName();
  private final List<String> received = new CopyOnWriteArrayList<>();
  private final List<String> authorization = new CopyOnWriteArrayList<>();
  private final CompletableFuture<Void> serverSawCancel = new CompletableFuture<>();
  private volatile Status answer = Status.OK;
  private volatile boolean oneAtATime;
  private volatile boolean neverAnswer;
  /** Calls carrying this bearer token are refused, as an expired token is. */
  private volatile String refusedToken;

  private Server server;
  private ManagedChannel raw;
  private GrpcLogTransport transport;

  @BeforeEach
  void setUp() throws Exception {
    ServerInterceptor captureAuth = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        String h = headers.get(BearerTokenInterceptor.AUTHORIZATION);
        authorization.add(h == null ? "" : h);
        if (h != null && h.equals("Bearer " + refusedToken)) {
          call.close(Status.UNAUTHENTICATED.withDescription("expired"), new Metadata());
          return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
      }
    };
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new Collector(), captureAuth))
        .build().start();
    raw = InProcessChannelBuilder.forName(name).directExecutor().build();
    Channel channel = ClientInterceptors.intercept(raw, new BearerTokenInterceptor(() -> null));
    transport = new GrpcLogTransport(channel);
  }

  @AfterEach
  void tearDown() throws Exception {
    raw.shutdownNow().awaitTermination(BOUND_MS, TimeUnit.MILLISECONDS);
    server.shutdownNow().awaitTermination(BOUND_MS, TimeUnit.MILLISECONDS);
  }

  private final class Collector extends LogServiceGrpc.LogServiceImplBase {
    @Override
    public StreamObserver<LogBatch> send(StreamObserver<Empty> response) {
      ServerCallStreamObserver<Empty> call = (ServerCallStreamObserver<Empty>) response;
      // Called also after the client half-closed, when onError no longer is.
      call.setOnCancelHandler(() -> serverSawCancel.complete(null));
      if (oneAtATime) {
        call.disableAutoRequest();
        call.request(1);
      }
      return new StreamObserver<>() {
        @Override
        public void onNext(LogBatch batch) {
          received.add(batch.getBatchId());
          if (oneAtATime) {
            call.request(1);
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          if (neverAnswer) {
            return;
          }
          Status s = answer;
          if (s.isOk()) {
            response.onNext(Empty.getDefaultInstance());
            response.onCompleted();
          } else {
            response.onError(s.asRuntimeException());
          }
        }
      };
    }
  }

  private static List<LogBatch> batches(int n) {
    return IntStream.range(0, n)
        .mapToObj(i -> LogBatch.newBuilder().setBatchId("batch-" + i).build()).toList();
  }

  private static List<String> ids(int n) {
    return IntStream.range(0, n).mapToObj(i -> "batch-" + i).toList();
  }

  private static Status await(CompletableFuture<Status> f) throws Exception {
    return f.get(BOUND_MS, TimeUnit.MILLISECONDS);
  }

  @Test
  void sendsEveryBatchInOrderWithTheTokenAndReportsOk() throws Exception {
    Status status = await(transport.send(batches(20), "tok-1", DEADLINE));

    assertThat(status.isOk()).isTrue();
    assertThat(received).isEqualTo(ids(20));
    assertThat(authorization).containsExactly("Bearer tok-1");
  }

  @Test
  void reportsTheStatusTheCollectorEndedTheCallWith() throws Exception {
    answer = Status.UNAUTHENTICATED.withDescription("expired");

    Status status = await(transport.send(batches(3), "tok-1", DEADLINE));

    assertThat(status.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(status.getDescription()).isEqualTo("expired");
  }

  @Test
  void aCollectorTakingOneMessageAtATimeStillGetsAllInOrder() throws Exception {
    oneAtATime = true;

    Status status = await(transport.send(batches(50), "tok-1", DEADLINE));

    assertThat(status.isOk()).isTrue();
    assertThat(received).isEqualTo(ids(50));
  }

  @Test
  void aCallThatIsNotAnsweredEndsAtItsDeadline() throws Exception {
    neverAnswer = true;

    Status status = await(transport.send(batches(1), "tok-1", Duration.ofMillis(200)));

    assertThat(status.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
  }

  @Test
  void cancellingTheFutureCancelsTheCall() throws Exception {
    neverAnswer = true;
    CompletableFuture<Status> call = transport.send(batches(2), "tok-1", DEADLINE);
    assertThat(call).isNotDone();

    call.cancel(false);

    serverSawCancel.get(BOUND_MS, TimeUnit.MILLISECONDS);
    assertThat(received).isEqualTo(ids(2));
  }

  @Test
  void aShipperOverGrpcRenewsARefusedTokenAndCommitsOnAcknowledgement() throws Exception {
    refusedToken = "tok-1";
    FakeClock clock = new FakeClock();
    CompletableFuture<Map<String, Long>> committed = new CompletableFuture<>();
    AtomicReference<Shipper> ref = new AtomicReference<>();
    Batcher batcher = new Batcher(Batcher.Options.of(3, 1 << 20, Duration.ofSeconds(1)), clock,
        new Batcher.Listener() {
          @Override
          public void pollNeeded() {
            ref.get().pollNeeded();
          }
        });
    FakeTokens tokens = new FakeTokens();
    Shipper shipper = new Shipper(batcher, transport, tokens, committed::complete, clock,
        Shipper.Options.defaults(), new ShipperCounters());
    ref.set(shipper);
    shipper.start();
    try {
      shipper.offer(TestLines.lines("a", 0, 3)); // one full batch

      assertThat(committed.get(BOUND_MS, TimeUnit.MILLISECONDS)).isEqualTo(Map.of("a", 30L));
      assertThat(tokens.refused).containsExactly("tok-1");
      assertThat(authorization).containsExactly("Bearer tok-1", "Bearer tok-2");
      assertThat(received).hasSize(1);
    } finally {
      shipper.shutdown().get(BOUND_MS, TimeUnit.MILLISECONDS);
    }
  }

  @Test
  void aCollectorThatIsNotThereIsUnavailable() throws Exception {
    server.shutdownNow().awaitTermination(BOUND_MS, TimeUnit.MILLISECONDS);

    Status status = await(transport.send(batches(1), "tok-1", DEADLINE));

    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
  }
}
