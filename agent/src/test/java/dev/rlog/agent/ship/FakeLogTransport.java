package dev.rlog.agent.ship;

import dev.rlog.proto.log.LogBatch;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link LogTransport} that records every call and completes it only when the test says so
 * ({@link #respond}), like Kafka's {@code MockClient.respond}. Thread-safe, so a test may also
 * drive a shipper whose own thread runs.
 */
final class FakeLogTransport implements LogTransport {
  /** One recorded Send call. */
  record Call(List<LogBatch> batches, String token, Duration deadline,
      CompletableFuture<Status> future) {
    List<String> batchIds() {
      return batches.stream().map(LogBatch::getBatchId).toList();
    }
  }

  private final List<Call> calls = new ArrayList<>();
  /** When set, every call completes with it inside {@code send}, on the caller's thread. */
  volatile Status autoRespond;

  @Override
  public CompletableFuture<Status> send(List<LogBatch> batches, String accessToken,
      Duration deadline) {
    Call c = new Call(List.copyOf(batches), accessToken, deadline, new CompletableFuture<>());
    synchronized (this) {
      calls.add(c);
    }
    Status auto = autoRespond;
    if (auto != null) {
      c.future().complete(auto);
    }
    return c.future();
  }

  /** Every call so far, oldest first. */
  synchronized List<Call> calls() {
    return List.copyOf(calls);
  }

  synchronized Call lastCall() {
    if (calls.isEmpty()) {
      throw new AssertionError("no call was made");
    }
    return calls.get(calls.size() - 1);
  }

  /** Calls started and not completed yet. */
  synchronized long inFlight() {
    return calls.stream().filter(c -> !c.future().isDone()).count();
  }

  /** Completes the oldest call still in flight with {@code status}. */
  void respond(Status status) {
    Call c;
    synchronized (this) {
      c = calls.stream().filter(x -> !x.future().isDone()).findFirst()
          .orElseThrow(() -> new AssertionError("no call in flight to respond to"));
    }
    c.future().complete(status); // outside the lock: completion runs the shipper's callbacks
  }
}
