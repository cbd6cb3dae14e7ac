package dev.rlog.collector.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Empty;
import dev.rlog.collector.auth.AgentIdentity;
import dev.rlog.collector.auth.AuthInterceptor;
import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Memory accounting of Send calls on the in-process transport, with direct executors and a
 * hand-driven store writer: nothing runs unless the test makes it.
 */
class SendBoundsTest {
  private static final int MAX_MESSAGE = 256 << 10;

  private final FakeClock clock = new FakeClock();
  private final GrpcIngestCounters counters = new GrpcIngestCounters();
  private IngestQueue queue;
  private ByteBudget inflight;
  private ByteBudget expansion;
  private LogServiceImpl service;
  private Server server;
  private ManagedChannel channel;

  private void start(long queueBytes, long inflightBytes, long expansionBytes) throws Exception {
    start(queueBytes, queueBytes * 3 / 4, inflightBytes, expansionBytes);
  }

  private void start(long queueBytes, long highBytes, long inflightBytes, long expansionBytes)
      throws Exception {
    queue = new IngestQueue(queueBytes, 1_000_000, highBytes, highBytes / 4, 750_000, 250_000);
    inflight = new ByteBudget(inflightBytes, Runnable::run);
    expansion = new ByteBudget(expansionBytes, Runnable::run);
    service = new LogServiceImpl(queue, new PositionFilter(new dev.rlog.collector.store
        .PositionTable(clock, java.time.Duration.ofDays(7), 1000)),
        uuid -> "host", clock, Runnable::run, counters, token -> null,
        new LogServiceImpl.SendBounds(inflight, expansion, MAX_MESSAGE));
    ServerInterceptor identity = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        AgentIdentity id = new AgentIdentity("agent-1", "web");
        return Contexts.interceptCall(Context.current().withValue(AuthInterceptor.IDENTITY, id)
            .withValue(AuthInterceptor.TOKEN, new dev.rlog.collector.auth.VerifiedToken(id, 0,
                java.time.Instant.MAX)), call, headers, next);
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

  /** Opens a Send call, sends {@code batch} and half-closes; the future ends with the call. */
  private CompletableFuture<Void> send(LogBatch batch) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<LogBatch> req = LogServiceGrpc.newStub(channel).send(new StreamObserver<>() {
      @Override
      public void onNext(Empty value) {}

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(null);
      }
    });
    req.onNext(batch);
    req.onCompleted();
    return done;
  }

  private static LogBatch batch(String fid, int lines, int lineBytes) {
    LogBatch.Builder b = LogBatch.newBuilder();
    String line = "x".repeat(lineBytes);
    for (int i = 0; i < lines; i++) {
      b.addLogs(Log.newBuilder().setLabel("app").setLine(line).setFileInstance(fid)
          .setOffset((long) i * (lineBytes + 1)));
    }
    return b.build();
  }

  /** What the store writer does, by hand: takes everything queued and reports it committed. */
  private int writeAll() throws InterruptedException {
    List<IngestQueue.Entry> out = new ArrayList<>();
    queue.drain(out, 0, TimeUnit.NANOSECONDS);
    long bytes = 0;
    long records = 0;
    long seq = 0;
    for (IngestQueue.Entry e : out) {
      bytes += e.chunk().footprint();
      records += e.chunk().records();
      seq = e.seq();
    }
    if (!out.isEmpty()) {
      queue.committed(seq, bytes, records);
    }
    return (int) records;
  }

  private static Status statusOf(CompletableFuture<Void> f) {
    assertThat(f).isCompletedExceptionally();
    return f.handle((v, t) -> Status.fromThrowable(t)).join();
  }

  @Test
  void aBatchOfEmptyLogsIsRefusedAtItsStoreSizeBeforeItIsExpanded() throws Exception {
    start(32 << 20, 1 << 20, 1 << 20);
    LogBatch.Builder b = LogBatch.newBuilder();
    for (int i = 0; i < 20_000; i++) {
      b.addLogs(Log.getDefaultInstance()); // 2 bytes on the wire, ~150 as a record
    }
    assertThat(b.build().getSerializedSize()).isLessThan(64 << 10);

    CompletableFuture<Void> call = send(b.build());

    Status st = statusOf(call);
    assertThat(st.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(st.getDescription()).contains("20000 entries").contains("max_batch_store_bytes");
    assertThat(counters.batchesTooLarge()).isEqualTo(1);
    assertThat(queue.lastSeq()).isZero(); // nothing was expanded or queued
    assertThat(inflight.held()).isZero();
    assertThat(expansion.held()).isZero();
  }

  @Test
  void aMessageAboveTheMaxIsRefusedWithResourceExhausted() throws Exception {
    start(32 << 20, 1 << 20, 1 << 20);

    CompletableFuture<Void> call = send(batch("f", 1, MAX_MESSAGE + 100));

    assertThat(statusOf(call).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(counters.batchesTooLarge()).isEqualTo(1);
    assertThat(inflight.held()).isZero();
  }

  @Test
  void theBatchChunkIsSizedByItsEstimateAndEveryLineIsStored() throws Exception {
    start(32 << 20, 1 << 20, 1 << 20);

    CompletableFuture<Void> call = send(batch("f", 500, 20));
    List<IngestQueue.Entry> out = new ArrayList<>();
    queue.drain(out, 0, TimeUnit.NANOSECONDS);

    assertThat(out).hasSize(1);
    var chunk = out.get(0).chunk();
    assertThat(chunk.records()).isEqualTo(500);
    // one allocation of the estimate: the buffer holds the records with little slack
    assertThat(chunk.footprint()).isGreaterThanOrEqualTo(chunk.length())
        .isLessThan(chunk.length() * 3 / 2);
    queue.committed(out.get(0).seq(), chunk.footprint(), chunk.records());
    assertThat(call).isCompleted();
    assertThat(inflight.held()).isZero();
    assertThat(expansion.held()).isZero();
  }

  @Test
  void callsBeyondTheInflightBudgetWaitUnreadAndAllAreStoredOnceTheQueueDrains()
      throws Exception {
    // Budget for two receive permits; a queue that takes one batch (it pauses only when full),
    // so the next calls receive their batch and hold it until the budget is spent.
    start(200 << 10, 200 << 10, 2L * MAX_MESSAGE, 256 << 10);
    int calls = 12;
    List<CompletableFuture<Void>> done = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      done.add(send(batch("fid-" + i, 500, 100))); // ~55 KB wire, ~150 KB as records
      assertThat(inflight.held()).isLessThanOrEqualTo(inflight.capacity());
    }
    // Nothing is written yet: only what fits the budget was received, the rest waits unread.
    assertThat(counters.receiveWaits()).isPositive();
    assertThat(inflight.waiting()).isPositive();
    assertThat(counters.batches()).isLessThan(calls);
    assertThat(counters.pausedStreams() * 50_000).isLessThanOrEqualTo(inflight.capacity());

    int stored = 0;
    for (int round = 0; round < 10 * calls && !done.stream().allMatch(CompletableFuture::isDone);
        round++) {
      stored += writeAll();
      assertThat(inflight.held()).isLessThanOrEqualTo(inflight.capacity());
      assertThat(queue.queuedBytes()).isLessThanOrEqualTo(queue.capacityBytes());
    }
    stored += writeAll();

    for (CompletableFuture<Void> f : done) {
      f.get(10, TimeUnit.SECONDS);
    }
    assertThat(stored).isEqualTo(calls * 500);
    assertThat(counters.records()).isEqualTo(calls * 500);
    assertThat(inflight.held()).isZero();
    assertThat(expansion.held()).isZero();
  }

  @Test
  void aCancelledCallGivesItsBytesBack() throws Exception {
    start(200 << 10, 200 << 10, 2L * MAX_MESSAGE, 256 << 10);
    CompletableFuture<Void> first = send(batch("a", 500, 100)); // fills the queue, not written
    CompletableFuture<Void> holder = new CompletableFuture<>();
    io.grpc.stub.ClientCallStreamObserver<LogBatch> req =
        (io.grpc.stub.ClientCallStreamObserver<LogBatch>) LogServiceGrpc.newStub(channel)
            .send(new StreamObserver<>() {
              @Override
              public void onNext(Empty value) {}

              @Override
              public void onError(Throwable t) {
                holder.completeExceptionally(t);
              }

              @Override
              public void onCompleted() {
                holder.complete(null);
              }
            });
    req.onNext(batch("b", 500, 100)); // received, then held: no room in the queue
    assertThat(counters.pausedStreams()).isEqualTo(1);
    long heldBefore = inflight.held();

    req.cancel("agent gave up", null);

    assertThat(counters.pausedStreams()).isZero();
    assertThat(inflight.held()).isLessThan(heldBefore);
    writeAll();
    first.get(10, TimeUnit.SECONDS);
    assertThat(inflight.held()).isZero();
  }

  @Test
  void aSendHoldingItsReceivePermitIdleIsEndedOnlyWhileOthersWait() throws Exception {
    start(1 << 20, 1L * MAX_MESSAGE, 256 << 10); // one receive permit
    CompletableFuture<Status> idleClosed = new CompletableFuture<>();
    io.grpc.ClientCall<LogBatch, Empty> idle = channel.newCall(LogServiceGrpc.getSendMethod(),
        io.grpc.CallOptions.DEFAULT);
    idle.start(new io.grpc.ClientCall.Listener<>() {
      @Override
      public void onClose(Status status, Metadata trailers) {
        idleClosed.complete(status);
      }
    }, new Metadata());
    idle.request(1); // opened, and nothing sent: it holds the only permit
    assertThat(inflight.held()).isEqualTo(MAX_MESSAGE);

    clock.advance(java.time.Duration.ofMinutes(5));
    assertThat(service.closeIdleReceivers(java.time.Duration.ofSeconds(10)))
        .as("nobody waits").isZero();

    CompletableFuture<Void> busy = send(batch("f", 10, 10));
    assertThat(counters.batches()).isZero(); // waits for the permit, unread
    assertThat(service.closeIdleReceivers(java.time.Duration.ofSeconds(10))).isEqualTo(1);

    assertThat(idleClosed.join().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(counters.idleReceiversClosed()).isEqualTo(1);
    assertThat(writeAll()).isEqualTo(10);
    busy.get(10, TimeUnit.SECONDS);
    assertThat(inflight.held()).isZero();
  }
}
