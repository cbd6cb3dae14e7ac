package dev.rlog.agent.heartbeat;

import com.google.protobuf.Timestamp;
import dev.rlog.agent.auth.AccessTokens;
import dev.rlog.agent.auth.BearerTokenInterceptor;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import dev.rlog.proto.health.HealthServiceGrpc;
import dev.rlog.proto.health.HeartbeatRequest;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends {@code HealthService/Heartbeat{timestamp, cpu %, memory %}} every interval, the first one
 * at start, so the collector can show the agent online with its host's load.
 *
 * <p><b>Schedule.</b> Fixed rate: beat n is due at start + n * interval. The decision is {@link
 * #runDue(long)}, a function of the clock's {@code nanoTime} that returns the next due time; the
 * thread waits exactly until then. A beat that comes due while the previous one is still running
 * (collector slow, host suspended) is skipped rather than sent in a burst.
 *
 * <p><b>Failures.</b> Each call has a deadline of min(deadline, interval). A failed beat is not
 * retried, the next one is on time anyway. An outage is logged once, at WARN, when the first beat
 * fails, and once more, at INFO, when a beat gets through again; beats in between log at DEBUG
 * only. {@code UNAUTHENTICATED} asks {@link AccessTokens#onUnauthenticated} for a new token and
 * sends the same beat once more with it.
 *
 * <p><b>Threading.</b> One daemon thread named {@value #THREAD_NAME} does everything (metrics
 * read, call, logging); {@link #runDue} must only be called from it, or from a test that never
 * starts the thread. {@link #shutdown()} is idempotent, does not interrupt a beat in flight (it
 * may be in a token renewal that must not be cut short) and completes when the thread has ended,
 * at most one call deadline later. Bounds: one call at a time, nothing queued.
 */
public final class Heartbeat implements Service {
  public static final String THREAD_NAME = "rlog-heartbeat";
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(10);

  private static final Logger log = LoggerFactory.getLogger(Heartbeat.class);

  private final Channel channel;
  private final AccessTokens tokens;
  private final SystemMetrics metrics;
  private final Clock clock;
  private final Duration interval;
  private final Duration callDeadline;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();
  // Guarded by lock.
  private boolean started;
  private boolean stopping;

  // Heartbeat thread only.
  private boolean scheduled;
  private long nextDueNanos;
  private boolean failing;
  private long failuresInOutage;

  private final AtomicLong sent = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();

  /**
   * @param channel the collector's channel, carrying a {@link BearerTokenInterceptor}
   * @param deadline per-call deadline; a call never runs longer than {@code interval} either
   */
  public Heartbeat(Channel channel, AccessTokens tokens, SystemMetrics metrics, Clock clock,
      Duration interval, Duration deadline) {
    this.channel = Objects.requireNonNull(channel, "channel");
    this.tokens = Objects.requireNonNull(tokens, "tokens");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.clock = Objects.requireNonNull(clock, "clock");
    if (interval == null || interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("interval must be positive");
    }
    if (deadline == null || deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("deadline must be positive");
    }
    this.interval = interval;
    this.callDeadline = deadline.compareTo(interval) < 0 ? deadline : interval;
  }

  /** Starts the thread; the first beat goes out at once. */
  @Override
  public void start() {
    lock.lock();
    try {
      if (started || stopping) {
        throw new IllegalStateException("heartbeat already started or shut down");
      }
      started = true;
    } finally {
      lock.unlock();
    }
    Thread t = new Thread(this::loop, THREAD_NAME);
    t.setDaemon(true);
    t.start();
  }

  /** Stops beating. Idempotent; every call returns the same future. */
  @Override
  public CompletableFuture<Void> shutdown() {
    boolean threadRunning;
    lock.lock();
    try {
      stopping = true;
      threadRunning = started;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
    if (!threadRunning) {
      terminated.complete(null); // never started: nothing to wait for
    }
    return terminated;
  }

  /**
   * Completes when the heartbeat thread ended, without asking it to (exceptionally if it died);
   * for supervision.
   */
  public CompletableFuture<Void> terminated() {
    return terminated;
  }

  /**
   * One scheduling step at {@code nowNanos}: sends the beat if one is due (blocking for at most
   * one call deadline, plus a token renewal when the collector asks for one) and returns when
   * the next one is due. Heartbeat thread only (or a test that never calls {@link #start()}).
   */
  public long runDue(long nowNanos) {
    if (!scheduled) {
      scheduled = true;
      nextDueNanos = nowNanos;
    }
    if (nowNanos - nextDueNanos < 0) {
      return nextDueNanos;
    }
    try {
      beat();
    } finally {
      // Advanced even if the beat threw, so a bug cannot turn the loop into a busy one.
      long after = clock.nanoTime();
      nextDueNanos += interval.toNanos();
      if (after - nextDueNanos >= 0) {
        nextDueNanos = after + interval.toNanos(); // fell behind: skip, do not burst
      }
    }
    return nextDueNanos;
  }

  /** Beats the collector accepted. */
  public long sentCount() {
    return sent.get();
  }

  /** Beats that failed (each outage is logged once, not each beat). */
  public long failedCount() {
    return failed.get();
  }

  private void beat() {
    HeartbeatRequest request;
    try {
      SystemMetrics.Sample s = metrics.sample().clamped();
      request = HeartbeatRequest.newBuilder()
          .setTimestamp(timestamp(clock.currentTimeMillis()))
          .setCpu(s.cpuPercent())
          .setMemory(s.memoryPercent())
          .build();
    } catch (RuntimeException e) {
      failed(Status.INTERNAL.withDescription("cannot read CPU and memory: " + e).asRuntimeException());
      return;
    }
    String token;
    try {
      token = tokens.accessToken();
    } catch (StatusRuntimeException e) {
      failed(e);
      return;
    }
    try {
      send(token, request);
      delivered();
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.UNAUTHENTICATED) {
        failed(e);
        return;
      }
      try {
        send(tokens.onUnauthenticated(token), request);
        delivered();
      } catch (StatusRuntimeException again) {
        failed(again);
      }
    }
  }

  private void send(String token, HeartbeatRequest request) {
    // A fresh stub per call: withDeadlineAfter fixes the deadline when the stub is made.
    HealthServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(callDeadline.toNanos(), TimeUnit.NANOSECONDS)
        .withOption(BearerTokenInterceptor.ACCESS_TOKEN, token)
        .heartbeat(request);
  }

  private void delivered() {
    sent.incrementAndGet();
    if (failing) {
      log.info("heartbeat delivered again after {} failed beat(s)", failuresInOutage);
      failing = false;
      failuresInOutage = 0;
    }
  }

  private void failed(StatusRuntimeException e) {
    failed.incrementAndGet();
    failuresInOutage++;
    String why = e.getStatus().getCode()
        + (e.getStatus().getDescription() == null ? "" : " (" + e.getStatus().getDescription() + ")");
    if (!failing) {
      failing = true;
      log.warn("heartbeat failed: {}; trying again every {} s, logging again when one gets through",
          why, interval.toSeconds());
    } else {
      log.debug("heartbeat failed again: {}", why);
    }
  }

  private void loop() {
    try {
      while (!isStopping()) {
        long next;
        try {
          next = runDue(clock.nanoTime());
        } catch (VirtualMachineError fatal) {
          throw fatal;
        } catch (Throwable t) {
          // runDue already moved the schedule on; keep beating rather than die silently.
          log.error("heartbeat step failed unexpectedly", t);
          next = clock.nanoTime() + interval.toNanos();
        }
        lock.lock();
        try {
          long wait = next - clock.nanoTime();
          while (!stopping && wait > 0) {
            wait = wake.awaitNanos(wait);
          }
        } finally {
          lock.unlock();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // nobody but the JVM interrupts us: just end
    } catch (Throwable t) {
      log.error("heartbeat thread died", t);
      terminated.completeExceptionally(t);
      throw t;
    } finally {
      terminated.complete(null);
    }
  }

  private boolean isStopping() {
    lock.lock();
    try {
      return stopping;
    } finally {
      lock.unlock();
    }
  }

  private static Timestamp timestamp(long epochMillis) {
    return Timestamp.newBuilder()
        .setSeconds(Math.floorDiv(epochMillis, 1000L))
        .setNanos((int) Math.floorMod(epochMillis, 1000L) * 1_000_000)
        .build();
  }
}
