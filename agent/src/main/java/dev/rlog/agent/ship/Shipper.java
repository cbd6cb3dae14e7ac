package dev.rlog.agent.ship;

import dev.rlog.agent.auth.AccessTokens;
import dev.rlog.agent.batch.Batcher;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSink;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ships what the tailer read: lines go into the {@link Batcher} (through {@link #offer}); ready
 * batches go out in {@code LogService.Send} calls over a {@link LogTransport}; the positions a call
 * covers are committed ({@link PositionCommitter}) only once the collector acknowledged the call.
 *
 * <p><b>Shape.</b> {@link #runOnce(long)} is one step of a state machine ({@link State}) at a given
 * time: take ready batches into a call, start it, handle its outcome through the {@link
 * RetryPolicy}; it returns when it wants to run again. The thread {@value #THREAD_NAME} only calls
 * it and waits exactly until that deadline or a wake-up (batcher has a batch, a call completed,
 * shutdown). Tests call {@code runOnce} themselves with a fake clock and a fake transport.
 *
 * <p><b>Order, and why one call at a time.</b> The collector skips a line whose offset is at or
 * below the highest it stored for that file instance, so the batches of a file instance must
 * reach it in order. Two concurrent calls could be processed out of order, so there is one call
 * in flight, carrying up to {@code maxBatchesPerCall} batches and {@code maxBytesPerCall} bytes
 * (at least one batch). Its positions are committed when it completes OK; then the next call goes.
 *
 * <p><b>Failures.</b> Nothing is dropped. A failed call's batches are kept and sent again, in the
 * same order, in the next call (the collector drops the lines it already has). {@code
 * UNAUTHENTICATED}: the token is renewed and the batches go again at once; anything else: capped
 * exponential backoff with jitter, forever while running ({@link RetryPolicy}). Meanwhile the
 * batcher fills up, its appends are refused, and the tailer pauses: memory stays bounded by the
 * batcher's bound plus one call's batches.
 *
 * <p><b>Shutdown.</b> {@link #shutdown()} stops taking lines, flushes the batcher, and keeps
 * sending for up to {@code drainTimeout}; it ends as soon as everything taken was acknowledged, or
 * at that deadline, cancelling a call still in flight and committing nothing more. What was not
 * acknowledged is read again after the next start.
 *
 * <p><b>Threading.</b> {@link #offer} runs on the tail thread only; {@link #runOnce} on the
 * shipper thread only (or in a test that never calls {@link #start()}); {@link #pollNeeded()},
 * {@link #shutdown()} and {@link #terminated()} on any thread. {@code runOnce} blocks only while
 * the token manager obtains or renews a token (bounded by its deadline). The loop catches and
 * logs any failure of a step and goes on after {@link #ERROR_PAUSE}; only a {@link
 * VirtualMachineError} or an interrupt ends it early, and then {@link #terminated()} says so, for
 * the agent's supervision to notice.
 */
public final class Shipper implements LineSink, Service {
  private static final Logger log = LoggerFactory.getLogger(Shipper.class);
  public static final String THREAD_NAME = "rlog-ship";
  /** {@link #runOnce} returns this when only a wake-up can give it work. */
  public static final long NO_DEADLINE = ShipLoop.NO_DEADLINE;
  /** Wait after a step failed unexpectedly, so a persistent bug cannot spin. */
  public static final Duration ERROR_PAUSE = ShipLoop.ERROR_PAUSE;

  /** Commits the position of a file instance after the collector acknowledged lines up to it. */
  @FunctionalInterface
  public interface PositionCommitter {
    void commit(Map<String, Long> endOffsets);
  }

  /** Where the shipper is; owned by the shipper thread. */
  enum State {
    /** Holding no batches: polls the batcher. */
    IDLE,
    /** Holding a call's batches, to be sent at {@code retryAtNanos} (now, for a fresh call). */
    WAITING,
    /** The call is in flight; its completion wakes the thread. */
    IN_FLIGHT,
    /** Drained or out of time; the thread ends. */
    ENDED
  }

  /**
   * Tuning of the shipping loop, validated on construction; the defaults are the constants below
   * and nowhere else.
   */
  public record Options(int maxBatchesPerCall, long maxBytesPerCall, Duration callDeadline,
      Duration backoffMin, Duration backoffMax, Duration drainTimeout) {
    public static final int DEFAULT_MAX_BATCHES_PER_CALL = 64;
    public static final long DEFAULT_MAX_BYTES_PER_CALL = 8L << 20;
    public static final Duration DEFAULT_CALL_DEADLINE = Duration.ofSeconds(60);
    public static final Duration DEFAULT_BACKOFF_MIN = Duration.ofMillis(200);
    public static final Duration DEFAULT_BACKOFF_MAX = Duration.ofSeconds(30);
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(10);

    public Options {
      if (maxBatchesPerCall < 1) {
        throw new IllegalArgumentException(
            "maxBatchesPerCall must be at least 1, got " + maxBatchesPerCall);
      }
      if (maxBytesPerCall < 1) {
        throw new IllegalArgumentException(
            "maxBytesPerCall must be at least 1, got " + maxBytesPerCall);
      }
      if (callDeadline == null || callDeadline.isNegative() || callDeadline.isZero()) {
        throw new IllegalArgumentException("callDeadline must be positive, got " + callDeadline);
      }
      checkBackoff(backoffMin, backoffMax);
      if (drainTimeout == null || drainTimeout.isNegative()) {
        throw new IllegalArgumentException("drainTimeout must not be negative, got " + drainTimeout);
      }
    }

    public static Options defaults() {
      return new Options(DEFAULT_MAX_BATCHES_PER_CALL, DEFAULT_MAX_BYTES_PER_CALL,
          DEFAULT_CALL_DEADLINE, DEFAULT_BACKOFF_MIN, DEFAULT_BACKOFF_MAX, DEFAULT_DRAIN_TIMEOUT);
    }

    /** The retry policy these options describe, with the default jitter. */
    public RetryPolicy retryPolicy() {
      return new RetryPolicy(backoffMin, backoffMax, RetryPolicy.EQUAL_JITTER);
    }

    static void checkBackoff(Duration min, Duration max) {
      if (min == null || min.isNegative() || min.isZero()) {
        throw new IllegalArgumentException("backoffMin must be positive, got " + min);
      }
      if (max == null || max.compareTo(min) < 0) {
        throw new IllegalArgumentException(
            "backoffMax (" + max + ") must be at least backoffMin (" + min + ")");
      }
    }
  }

  private final Batcher batcher;
  private final LogTransport transport;
  private final AccessTokens tokens;
  private final PositionCommitter committer;
  private final Clock clock;
  private final Options options;
  private final RetryPolicy policy;
  private final ShipperCounters counters;
  private final BatcherSink sink;

  private final ShipLoop loop;

  private final AtomicBoolean shutdownCalled = new AtomicBoolean();
  private volatile boolean stopping;
  private volatile long drainDeadlineNanos;

  // Shipper thread only (see the class comment).
  private State state = State.IDLE;
  private InFlightCall pending;
  private CompletableFuture<Status> call;
  private String callToken;
  private long retryAtNanos;
  private int failuresInRow;
  private int renewalsInRow;
  /** The last call was refused for its token after a wait: renew it just before the next. */
  private boolean renewBeforeSend;

  public Shipper(Batcher batcher, LogTransport transport, AccessTokens tokens,
      PositionCommitter committer, Clock clock, Options options, ShipperCounters counters) {
    this(batcher, transport, tokens, committer, clock, options, options.retryPolicy(), counters);
  }

  /** With an explicit policy, e.g. one without jitter for a test. */
  public Shipper(Batcher batcher, LogTransport transport, AccessTokens tokens,
      PositionCommitter committer, Clock clock, Options options, RetryPolicy policy,
      ShipperCounters counters) {
    this.batcher = Objects.requireNonNull(batcher, "batcher");
    this.transport = Objects.requireNonNull(transport, "transport");
    this.tokens = Objects.requireNonNull(tokens, "tokens");
    this.committer = Objects.requireNonNull(committer, "committer");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.options = Objects.requireNonNull(options, "options");
    this.policy = Objects.requireNonNull(policy, "policy");
    this.counters = Objects.requireNonNull(counters, "counters");
    this.sink = new BatcherSink(batcher, counters);
    this.loop = new ShipLoop(THREAD_NAME, clock, new ShipLoop.Step() {
      @Override
      public long runOnce(long nowNanos) {
        return Shipper.this.runOnce(nowNanos);
      }

      @Override
      public boolean ended() {
        return state == State.ENDED;
      }

      @Override
      public void interrupted() {
        if (call != null) {
          call.cancel(false);
        }
      }
    });
  }

  /** For the batcher's listener: a batch became ready or a new deadline started. */
  public void pollNeeded() {
    wakeup();
  }

  /**
   * Tail thread: takes all lines of {@code batch} or, when the batcher is full, as many as fit
   * and returns false; the tailer offers the same batch again later and the lines already taken
   * are skipped, so none is taken twice. Refuses everything once shutdown began.
   */
  @Override
  public boolean offer(LineBatch batch) {
    return sink.offer(batch);
  }

  @Override
  public void start() {
    loop.start();
  }

  /**
   * Stops taking lines and drains for at most {@code drainTimeout}. Idempotent; every call
   * returns the same future, which completes when the thread has ended (exceptionally if it died).
   */
  @Override
  public CompletableFuture<Void> shutdown() {
    initiateShutdown();
    start(); // never started: the thread still drains what the batcher holds, then ends
    return loop.terminated();
  }

  /** Completes when the shipper thread ended, without asking it to; for supervision. */
  public CompletableFuture<Void> terminated() {
    return loop.terminated();
  }

  /**
   * The first half of {@link #shutdown()}: fixes the drain deadline, refuses further lines and
   * flushes the batcher, without starting the thread. Visible for tests that drive {@link
   * #runOnce} themselves.
   */
  void initiateShutdown() {
    if (shutdownCalled.compareAndSet(false, true)) {
      drainDeadlineNanos = clock.nanoTime() + options.drainTimeout().toNanos();
      stopping = true;
      sink.close();
      batcher.flushNow();
      wakeup();
    }
  }

  /** Where the state machine is; shipper thread or a test driving {@link #runOnce}. */
  State state() {
    return state;
  }

  /**
   * One step at {@code nowNanos}: handles a completed call, takes ready batches into a new call
   * and starts it, or notes that the retry wait or the drain deadline has passed. Returns the
   * {@code nanoTime} at which to run again without a wake-up: {@code nowNanos} if there is more
   * to do at once, {@link #NO_DEADLINE} if only a wake-up (a ready batch, a completed call) can
   * bring work, and always {@code NO_DEADLINE} once {@link State#ENDED}.
   */
  public long runOnce(long nowNanos) {
    while (true) {
      if (state == State.IN_FLIGHT && call.isDone()) {
        // Before the drain check: a call acknowledged just before the deadline still commits.
        onCallEnded(statusOf(call), nowNanos);
      }
      if (state == State.ENDED) {
        return NO_DEADLINE;
      }
      if (stopping && nowNanos - drainDeadlineNanos >= 0) {
        endAtDrainDeadline();
        return NO_DEADLINE;
      }
      switch (state) {
        case IDLE -> {
          long next = takeNextCall(nowNanos);
          if (pending == null) {
            if (stopping && batcher.bufferedLines() == 0) {
              log.info("shipper drained: everything read was acknowledged");
              state = State.ENDED;
              return NO_DEADLINE;
            }
            return capByDrain(next);
          }
          // A fresh call goes at once: go round to WAITING.
        }
        case WAITING -> {
          if (nowNanos - retryAtNanos < 0) {
            return capByDrain(retryAtNanos);
          }
          startCall(nowNanos);
          // One call start per step: a transport that fails at once cannot make this spin.
          return state == State.IN_FLIGHT && !call.isDone() ? capByDrain(NO_DEADLINE) : nowNanos;
        }
        case IN_FLIGHT -> {
          return capByDrain(NO_DEADLINE); // its completion wakes us; its deadline bounds it
        }
        default -> throw new IllegalStateException("unexpected state " + state);
      }
    }
  }

  /**
   * Moves ready batches into a new call, oldest first, up to the call's batch and byte bounds (at
   * least one batch), so one call's memory is bounded whatever the batch size. Returns the
   * batcher's next deadline when it had nothing.
   */
  private long takeNextCall(long nowNanos) {
    if (stopping) {
      batcher.flushNow(); // a line that slipped in after shutdown began need not wait its age
    }
    List<Batcher.ReadyBatch> taken = new ArrayList<>();
    long bytes = 0;
    while (true) {
      Batcher.Poll poll = batcher.poll(nowNanos, 1);
      if (poll.batches().isEmpty()) {
        if (taken.isEmpty()) {
          return poll.nextDeadlineNanos();
        }
        break;
      }
      Batcher.ReadyBatch b = poll.batches().get(0);
      taken.add(b);
      bytes += b.bytes();
      if (taken.size() >= options.maxBatchesPerCall() || bytes >= options.maxBytesPerCall()) {
        break;
      }
    }
    pending = new InFlightCall(taken);
    retryAtNanos = nowNanos;
    state = State.WAITING;
    return nowNanos;
  }

  private void startCall(long nowNanos) {
    String token;
    try {
      if (renewBeforeSend) {
        renewBeforeSend = false;
        token = tokens.onUnauthenticated(callToken);
        counters.tokenRenewal();
        renewalsInRow++;
      } else {
        token = tokens.accessToken();
      }
    } catch (StatusRuntimeException e) {
      callToken = null;
      onFailed(e.getStatus(), nowNanos);
      return;
    }
    callToken = token;
    counters.callStarted(pending.batchCount());
    CompletableFuture<Status> started;
    try {
      started = transport.send(pending.messages(), token, options.callDeadline());
    } catch (RuntimeException e) {
      // The contract says a transport reports failures in its future; treat a throw the same.
      started = CompletableFuture.completedFuture(Status.fromThrowable(e));
    }
    call = started;
    state = State.IN_FLIGHT;
    started.whenComplete((status, error) -> wakeup());
  }

  private void onCallEnded(Status status, long nowNanos) {
    counters.callEnded(pending.batchCount());
    call = null;
    // Consistent before anything below can throw: a failed step then resends after the pause.
    state = State.WAITING;
    retryAtNanos = nowNanos;
    if (status.isOk()) {
      InFlightCall acked = pending;
      pending = null;
      failuresInRow = 0;
      renewalsInRow = 0;
      state = State.IDLE; // before committing: a failing committer must not resend the call
      counters.linesAcked(acked.linesByLabel());
      committer.commit(acked.endOffsets());
      log.debug("acknowledged {} lines in {} batches", acked.lineCount(), acked.batchCount());
      return;
    }
    onFailed(status, nowNanos);
  }

  /** The call (or getting its token) failed: decide, and hold the batches until the retry. */
  private void onFailed(Status status, long nowNanos) {
    failuresInRow++;
    counters.retry();
    RetryPolicy.Decision decision = policy.onResult(status, failuresInRow, renewalsInRow);
    long delay = decision.delayNanos();
    if (decision instanceof RetryPolicy.RenewAndRetry && delay > 0) {
      // Renewed right before the call goes, not now: a token renewed before the wait could
      // expire during it (short token lifetimes) and be refused again, forever.
      renewBeforeSend = true;
      log.info("collector refused the access token again; renewing it and sending {} batches"
          + " in {} ms", pending.batchCount(), millis(delay));
    } else if (decision instanceof RetryPolicy.RenewAndRetry) {
      try {
        tokens.onUnauthenticated(callToken);
        counters.tokenRenewal();
        renewalsInRow++;
        log.info("collector refused the access token; renewed it, sending {} batches again",
            pending.batchCount());
      } catch (StatusRuntimeException e) {
        delay = policy.backoffNanos(failuresInRow);
        log.warn("renewing the access token failed ({}); retrying in {} ms",
            describe(e.getStatus()), millis(delay));
      }
    } else if (decision instanceof RetryPolicy.Poison) {
      counters.poisoned();
      // Sending it again cannot help and dropping it would lose lines: keep trying, loudly.
      log.error("collector refused {} batches as malformed ({}); retrying in {} ms",
          pending.batchCount(), describe(status), millis(delay));
    } else {
      log.warn("sending {} batches failed ({}); retrying in {} ms", pending.batchCount(),
          describe(status), millis(delay));
    }
    retryAtNanos = nowNanos + delay;
    state = State.WAITING;
  }

  private void endAtDrainDeadline() {
    if (state == State.IN_FLIGHT) {
      call.cancel(false); // cancels the call: nothing it carried is committed
      counters.callEnded(pending.batchCount());
      call = null;
    }
    int unacked = pending == null ? 0 : pending.batchCount();
    long buffered = batcher.bufferedLines();
    if (unacked > 0 || buffered > 0) {
      log.warn("drain time ({}) is up with {} unacknowledged batches and {} buffered lines:"
          + " they are read again after the next start", options.drainTimeout(), unacked,
          buffered);
    }
    pending = null;
    state = State.ENDED;
  }

  private long capByDrain(long deadline) {
    if (!stopping) {
      return deadline;
    }
    long drain = drainDeadlineNanos;
    return deadline == NO_DEADLINE || drain - deadline < 0 ? drain : deadline;
  }

  private static Status statusOf(CompletableFuture<Status> done) {
    try {
      return Objects.requireNonNull(done.join(), "transport completed a call with null");
    } catch (CancellationException e) {
      return Status.CANCELLED.withDescription("call cancelled");
    } catch (CompletionException e) {
      return Status.fromThrowable(e.getCause());
    }
  }

  private static String describe(Status status) {
    return status.getDescription() == null ? status.getCode().toString()
        : status.getCode() + ": " + status.getDescription();
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  private void wakeup() {
    loop.wakeup();
  }
}
