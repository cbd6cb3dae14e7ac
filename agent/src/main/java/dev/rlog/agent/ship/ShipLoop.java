package dev.rlog.agent.ship;

import dev.rlog.common.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thread of a shipper: calls its {@link Step#runOnce} and waits exactly until the deadline it
 * returns or a {@link #wakeup()}, until the step says it ended. A step that throws is logged and
 * retried after {@link #ERROR_PAUSE}, so a persistent bug cannot spin; only a {@link
 * VirtualMachineError} or an interrupt ends the loop early, and {@link #terminated()} says so, for
 * the agent's supervision to notice.
 */
final class ShipLoop {
  private static final Logger log = LoggerFactory.getLogger(ShipLoop.class);
  /** {@link Step#runOnce} returns this when only a wake-up can give it work. */
  static final long NO_DEADLINE = Long.MAX_VALUE;
  /** Wait after a step failed unexpectedly. */
  static final Duration ERROR_PAUSE = Duration.ofSeconds(1);

  /** What the loop runs; called on the loop's thread only. */
  interface Step {
    /** One step at {@code nowNanos}; returns when to run again ({@link #NO_DEADLINE}: on wake). */
    long runOnce(long nowNanos);

    boolean ended();

    /** The thread was interrupted: give up what is in flight (it is read again next start). */
    void interrupted();
  }

  private final String name;
  private final Clock clock;
  private final Step step;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();
  // Guarded by lock.
  private boolean wakeRequested;
  private Thread thread;

  ShipLoop(String name, Clock clock, Step step) {
    this.name = name;
    this.clock = clock;
    this.step = step;
  }

  /** Starts the thread once; later calls do nothing. */
  void start() {
    lock.lock();
    try {
      if (thread == null) {
        thread = new Thread(this::run, name);
        thread.start();
      }
    } finally {
      lock.unlock();
    }
  }

  CompletableFuture<Void> terminated() {
    return terminated;
  }

  /** Any thread: the step should run now. */
  void wakeup() {
    lock.lock();
    try {
      wakeRequested = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void run() {
    try {
      while (!step.ended()) {
        lock.lock();
        try {
          wakeRequested = false; // a wake-up from now on is seen by the wait below
        } finally {
          lock.unlock();
        }
        long next;
        try {
          next = step.runOnce(clock.nanoTime());
        } catch (VirtualMachineError e) {
          throw e;
        } catch (Throwable t) {
          log.error("shipping step failed; going on in {} ms", ERROR_PAUSE.toMillis(), t);
          next = clock.nanoTime() + ERROR_PAUSE.toNanos();
        }
        if (!step.ended()) {
          awaitWakeOr(next);
        }
      }
      terminated.complete(null);
    } catch (InterruptedException e) {
      // Nobody but the JVM interrupts us. End now; the supervisor notices if it was not a stop.
      log.warn("{} interrupted; unacknowledged lines are read again after the next start", name);
      step.interrupted();
      Thread.currentThread().interrupt();
      terminated.complete(null);
    } catch (Throwable t) {
      log.error("{} died", name, t);
      terminated.completeExceptionally(t);
      throw t;
    }
  }

  private void awaitWakeOr(long deadline) throws InterruptedException {
    lock.lock();
    try {
      while (!wakeRequested) {
        if (deadline == NO_DEADLINE) {
          wake.await();
        } else {
          long left = deadline - clock.nanoTime();
          if (left <= 0) {
            return;
          }
          wake.awaitNanos(left);
        }
      }
    } finally {
      lock.unlock();
    }
  }
}
