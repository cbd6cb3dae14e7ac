package dev.rlog.agent.ship;

import com.google.protobuf.Empty;
import dev.rlog.agent.auth.AccessTokens;
import dev.rlog.agent.auth.BearerTokenInterceptor;
import dev.rlog.agent.batch.Batcher;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSink;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import dev.rlog.proto.log.LogBatch;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ships what the tailer read: lines go into the {@link Batcher}; one thread ({@value
 * #THREAD_NAME}) takes ready batches and sends them in {@code LogService.Send} calls, and
 * commits their positions only once the collector acknowledged the call.
 *
 * <p><b>Order, and why one call at a time.</b> The collector skips a line whose offset is at or
 * below the highest it stored for that file instance, so the batches of a file instance must
 * reach it in order. Two concurrent calls could be processed out of order, so there is one call
 * in flight, carrying up to {@code maxBatchesPerCall} batches and {@code maxBytesPerCall} bytes
 * pipelined on the stream (sent while
 * the stream {@code isReady()}). The call completes once the collector has committed all of it;
 * then every position it covers is committed ({@link PositionCommitter}) and the next call goes.
 *
 * <p><b>Failures.</b> Nothing is dropped. A failed call's batches are kept and sent again, in the
 * same order, in the next call (the collector drops the lines it already has). {@code
 * UNAUTHENTICATED}: the token manager refreshes (or registers again) and the batches go again at
 * once. Anything else (collector down, deadline): capped exponential backoff with jitter, forever
 * while running. Meanwhile the batcher fills up, its appends are refused, and the tailer pauses:
 * memory stays bounded by the batcher's bound plus one call's batches.
 *
 * <p><b>Threading.</b> {@link #offer} is called by the tail thread only; everything else runs on
 * the shipper thread. {@link #shutdown()} stops taking lines, flushes the batcher, sends what is
 * left for up to {@code drainTimeout}, commits what was acknowledged, and ends; what was not
 * acknowledged is read again after the next start.
 */
public final class Shipper implements LineSink, Service {
  private static final Logger log = LoggerFactory.getLogger(Shipper.class);
  public static final String THREAD_NAME = "rlog-ship";

  /** Commits the position of a file instance after the collector acknowledged lines up to it. */
  @FunctionalInterface
  public interface PositionCommitter {
    void commit(Map<String, Long> endOffsets);
  }

  /** Tuning of the shipping loop. */
  public record Options(int maxBatchesPerCall, long maxBytesPerCall, Duration callDeadline,
      Duration backoffMin, Duration backoffMax, Duration drainTimeout) {
    public static Options defaults() {
      return new Options(64, 8L << 20, Duration.ofSeconds(60), Duration.ofMillis(200),
          Duration.ofSeconds(30), Duration.ofSeconds(10));
    }
  }

  private final Batcher batcher;
  private final LogServiceGrpc.LogServiceStub stub;
  private final AccessTokens tokens;
  private final PositionCommitter committer;
  private final Clock clock;
  private final Options options;
  private final ShipperCounters counters;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private boolean pollNeeded;
  private volatile boolean stopping;
  private volatile long drainDeadlineNanos;
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();
  private Thread thread;

  // Owned by the tail thread (offer): how much of a refused LineBatch the batcher already took.
  private LineBatch partial;
  private int partialTaken;

  public Shipper(Batcher batcher, LogServiceGrpc.LogServiceStub stub, AccessTokens tokens,
      PositionCommitter committer, Clock clock, Options options, ShipperCounters counters) {
    this.batcher = batcher;
    this.stub = stub;
    this.tokens = tokens;
    this.committer = committer;
    this.clock = clock;
    this.options = options;
    this.counters = counters;
  }

  /** For the batcher's listener: a batch became ready or a new deadline started. */
  public void pollNeeded() {
    lock.lock();
    try {
      pollNeeded = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Tail thread: takes all lines of {@code batch} or, when the batcher is full, as many as fit
   * and returns false; the tailer offers the same batch again later and the lines already taken
   * are skipped, so none is taken twice.
   */
  @Override
  public boolean offer(LineBatch batch) {
    if (stopping) {
      return false;
    }
    int start = batch == partial ? partialTaken : 0;
    for (int i = start; i < batch.size(); i++) {
      if (!batcher.append(batch.label(), batch.fileInstance(), batch.offset(i), batch.line(i),
          batch.end(i))) {
        partial = batch;
        partialTaken = i;
        return false;
      }
    }
    partial = null;
    counters.linesRead(batch.label(), batch.size());
    return true;
  }

  @Override
  public synchronized void start() {
    if (thread == null) {
      thread = new Thread(this::run, THREAD_NAME);
      thread.start();
    }
  }

  @Override
  public CompletableFuture<Void> shutdown() {
    if (!stopping) {
      drainDeadlineNanos = clock.nanoTime() + options.drainTimeout().toNanos();
      stopping = true;
      batcher.flushNow();
      pollNeeded();
    }
    start(); // never started: still end cleanly
    return terminated;
  }

  private void run() {
    try {
      loop();
      terminated.complete(null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      terminated.complete(null);
    } catch (Throwable t) {
      log.error("shipper stopped on an unexpected error", t);
      terminated.completeExceptionally(t);
      if (t instanceof VirtualMachineError) {
        throw (VirtualMachineError) t;
      }
    }
  }

  private void loop() throws InterruptedException {
    List<Batcher.ReadyBatch> inFlight = new ArrayList<>();
    long backoff = options.backoffMin().toNanos();
    while (true) {
      if (stopping && clock.nanoTime() - drainDeadlineNanos >= 0) {
        if (!inFlight.isEmpty() || batcher.bufferedLines() > 0) {
          log.warn("stopping with {} unacknowledged batches and {} buffered lines: they are"
              + " read again after the next start", inFlight.size(), batcher.bufferedLines());
        }
        return;
      }
      if (inFlight.isEmpty()) {
        Batcher.Poll poll = takeReady(inFlight);
        if (inFlight.isEmpty()) {
          if (stopping && batcher.bufferedLines() == 0) {
            return; // everything read was acknowledged
          }
          awaitPoll(poll.waitNanos(clock.nanoTime()));
          continue;
        }
      }
      Status status = send(inFlight);
      if (status.isOk()) {
        commit(inFlight);
        inFlight.clear();
        backoff = options.backoffMin().toNanos();
        continue;
      }
      counters.retry();
      if (status.getCode() == Status.Code.UNAUTHENTICATED) {
        continue; // send() renewed the token; go again at once
      }
      if (status.getCode() == Status.Code.INVALID_ARGUMENT) {
        // The collector refuses this data as malformed; sending it again cannot help and
        // dropping it would lose lines. Keep trying slowly and say so loudly.
        log.error("collector refused a batch as malformed ({}); retrying", status);
      } else {
        log.warn("sending {} batches failed ({}: {}); retrying in {} ms", inFlight.size(),
            status.getCode(), status.getDescription(), TimeUnit.NANOSECONDS.toMillis(backoff));
      }
      long jittered = backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1);
      awaitStopOr(jittered);
      backoff = Math.min(options.backoffMax().toNanos(), backoff * 2);
    }
  }

  /**
   * Moves ready batches into {@code call}, oldest first, up to the call's batch and byte bounds
   * (at least one batch), so one call's memory is bounded whatever the batch size.
   */
  private Batcher.Poll takeReady(List<Batcher.ReadyBatch> call) {
    long bytes = 0;
    while (true) {
      Batcher.Poll poll = batcher.poll(clock.nanoTime(), 1);
      if (poll.batches().isEmpty()) {
        return poll;
      }
      Batcher.ReadyBatch b = poll.batches().get(0);
      call.add(b);
      bytes += b.bytes();
      if (call.size() >= options.maxBatchesPerCall() || bytes >= options.maxBytesPerCall()) {
        return poll;
      }
    }
  }

  /** One Send call carrying {@code batches} in order; the status it ended with. */
  private Status send(List<Batcher.ReadyBatch> batches) throws InterruptedException {
    String token;
    try {
      token = tokens.accessToken();
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
    CompletableFuture<Status> done = new CompletableFuture<>();
    Object readyMonitor = new Object();
    @SuppressWarnings("unchecked")
    ClientCallStreamObserver<LogBatch>[] holder = new ClientCallStreamObserver[1];
    stub.withOption(BearerTokenInterceptor.ACCESS_TOKEN, token)
        .withDeadlineAfter(options.callDeadline().toMillis(), TimeUnit.MILLISECONDS)
        .send(new ClientResponseObserver<LogBatch, Empty>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<LogBatch> requestStream) {
            holder[0] = requestStream;
            requestStream.setOnReadyHandler(() -> {
              synchronized (readyMonitor) {
                readyMonitor.notifyAll();
              }
            });
          }

          @Override
          public void onNext(Empty value) {}

          @Override
          public void onError(Throwable t) {
            done.complete(Status.fromThrowable(t));
            synchronized (readyMonitor) {
              readyMonitor.notifyAll();
            }
          }

          @Override
          public void onCompleted() {
            done.complete(Status.OK);
          }
        });
    ClientCallStreamObserver<LogBatch> call = holder[0];
    counters.callStarted(batches.size());
    try {
      for (Batcher.ReadyBatch b : batches) {
        synchronized (readyMonitor) {
          while (!call.isReady() && !done.isDone()) {
            readyMonitor.wait(100); // the ready handler wakes us; the bound covers a lost wake
          }
        }
        if (done.isDone()) {
          break;
        }
        call.onNext(b.batch());
      }
      if (!done.isDone()) {
        call.onCompleted();
      }
      Status status = done.join();
      if (status.getCode() == Status.Code.UNAUTHENTICATED) {
        try {
          tokens.onUnauthenticated(token);
          counters.tokenRenewal();
        } catch (StatusRuntimeException e) {
          return e.getStatus(); // renewal failed for now: back off
        }
      }
      return status;
    } catch (InterruptedException e) {
      call.cancel("agent stopping", e);
      throw e;
    } finally {
      counters.callEnded(batches.size());
    }
  }

  private void commit(List<Batcher.ReadyBatch> acked) {
    Map<String, Long> ends = new LinkedHashMap<>();
    long lines = 0;
    for (Batcher.ReadyBatch b : acked) {
      b.endOffsets().forEach((fid, end) -> ends.merge(fid, end, Math::max));
      lines += b.lineCount();
      String last = null;
      long run = 0;
      for (var l : b.batch().getLogsList()) { // lines of a batch come in runs of one label
        if (!l.getLabel().equals(last)) {
          if (last != null) {
            counters.linesAcked(last, run);
          }
          last = l.getLabel();
          run = 0;
        }
        run++;
      }
      if (last != null) {
        counters.linesAcked(last, run);
      }
    }
    committer.commit(ends);
    log.debug("acknowledged {} lines in {} batches", lines, acked.size());
  }

  private void awaitPoll(long nanos) throws InterruptedException {
    lock.lock();
    try {
      long left = nanos;
      while (!pollNeeded && left > 0) {
        left = wake.awaitNanos(left);
      }
      pollNeeded = false;
    } finally {
      lock.unlock();
    }
  }

  private void awaitStopOr(long nanos) throws InterruptedException {
    lock.lock();
    try {
      long left = stopping ? Math.min(nanos, drainDeadlineNanos - clock.nanoTime()) : nanos;
      while (left > 0 && !(stopping && clock.nanoTime() - drainDeadlineNanos >= 0)) {
        left = wake.awaitNanos(left);
        if (stopping) {
          left = Math.min(left, drainDeadlineNanos - clock.nanoTime());
        }
      }
    } finally {
      lock.unlock();
    }
  }
}
