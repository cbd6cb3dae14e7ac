package dev.rlog.agent.ship;

import com.google.protobuf.Empty;
import dev.rlog.agent.auth.BearerTokenInterceptor;
import dev.rlog.proto.log.LogBatch;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@link LogTransport} over a gRPC channel: one {@code LogService.Send} client stream per {@link
 * #send}, written only while the stream {@code isReady()}.
 *
 * <p><b>Flow control.</b> Batches are written from the stream's on-ready handler, as many as the
 * transport takes without buffering beyond its window, then the handler returns and gRPC calls
 * it again when there is room; after the last batch the stream is half-closed. Nothing waits: no
 * thread is parked for the call, and the memory held is the call's batches (bounded by the
 * shipper) plus one HTTP/2 window.
 *
 * <p><b>Threading.</b> {@link #send} may be called from any thread and returns at once. The
 * on-ready handler and the response callbacks run on gRPC's call executor, which serializes them,
 * so the per-call state needs no lock. Cancelling the returned future cancels the call through a
 * {@link Context.CancellableContext}, which gRPC allows from any thread ({@code ClientCall.cancel}
 * itself is not thread-safe).
 *
 * <p><b>Failures.</b> The future completes with the call's status and never exceptionally: a
 * stub that throws while starting the call becomes that status. The call carries {@code
 * deadline}, so it ends by then at the latest.
 */
public final class GrpcLogTransport implements LogTransport {
  private final LogServiceGrpc.LogServiceStub stub;

  /** @param channel the collector's channel, carrying a {@link BearerTokenInterceptor} */
  public GrpcLogTransport(Channel channel) {
    this.stub = LogServiceGrpc.newStub(Objects.requireNonNull(channel, "channel"));
  }

  @Override
  public CompletableFuture<Status> send(List<LogBatch> batches, String accessToken,
      Duration deadline) {
    List<LogBatch> copy = List.copyOf(batches);
    CompletableFuture<Status> done = new CompletableFuture<>();
    Context.CancellableContext context = Context.current().withCancellation();
    // Cancelling an ended call's context is a no-op; doing it always releases the context.
    done.whenComplete((status, error) -> context.cancel(done.isCancelled()
        ? new CancellationException("shipper stopped waiting for the call") : null));
    try {
      context.run(() -> stub.withOption(BearerTokenInterceptor.ACCESS_TOKEN, accessToken)
          .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
          .send(new CallObserver(copy.iterator(), done)));
    } catch (RuntimeException e) {
      done.complete(Status.fromThrowable(e));
    }
    return done;
  }

  /** Writes the batches while the stream is ready; reports how the call ended. */
  private static final class CallObserver implements ClientResponseObserver<LogBatch, Empty> {
    private final Iterator<LogBatch> next;
    private final CompletableFuture<Status> done;
    // Call executor only (serialized by gRPC).
    private ClientCallStreamObserver<LogBatch> stream;
    private boolean halfClosed;

    CallObserver(Iterator<LogBatch> next, CompletableFuture<Status> done) {
      this.next = next;
      this.done = done;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<LogBatch> requestStream) {
      stream = requestStream;
      stream.setOnReadyHandler(this::writeWhileReady);
    }

    private void writeWhileReady() {
      // On-ready may fire spuriously or more than once; isReady() and halfClosed cover both.
      while (!halfClosed && next.hasNext() && stream.isReady()) {
        stream.onNext(next.next());
      }
      if (!halfClosed && !next.hasNext()) {
        halfClosed = true; // half-close is not flow controlled: no need to wait for ready
        stream.onCompleted();
      }
    }

    @Override
    public void onNext(Empty value) {}

    @Override
    public void onError(Throwable t) {
      done.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      done.complete(Status.OK);
    }
  }
}
