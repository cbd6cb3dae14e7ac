package dev.rlog.collector.grpc;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.LongAdder;

/**
 * A fixed number of bytes shared by many gRPC calls, taken before memory is committed and given
 * back when it is freed: an asynchronous, first-come-first-served byte semaphore.
 *
 * <p><b>Bounds.</b> At most {@link #capacity()} bytes are held at any time. A request larger than
 * the capacity is refused at once (the callers cap their requests below it). When a request does
 * not fit, the caller keeps nothing and its callback is queued; waiters are granted strictly in
 * order, so a large request is not starved by a stream of small ones.
 *
 * <p><b>Threading.</b> Any thread may acquire and release. A queued callback runs on
 * {@code grantExecutor}, never on the releasing thread, so a caller may release while holding its
 * own lock. A callback that finds its call gone must {@link #release} what it was granted.
 */
public final class ByteBudget {
  private record Waiter(long bytes, Runnable granted) {}

  private final long capacity;
  private final Executor grantExecutor;
  private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
  private long held;
  private final LongAdder waits = new LongAdder();

  public ByteBudget(long capacity, Executor grantExecutor) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("capacity must be positive, got " + capacity);
    }
    this.capacity = capacity;
    this.grantExecutor = grantExecutor;
  }

  /**
   * Takes {@code bytes} now and returns true, or queues {@code whenGranted} (run once the bytes
   * are taken for the caller) and returns false.
   *
   * @throws IllegalArgumentException if {@code bytes} is negative or above the capacity
   */
  public boolean acquireOrWait(long bytes, Runnable whenGranted) {
    if (bytes < 0 || bytes > capacity) {
      throw new IllegalArgumentException(
          "cannot take " + bytes + " bytes of a budget of " + capacity);
    }
    synchronized (this) {
      if (waiters.isEmpty() && held + bytes <= capacity) {
        held += bytes;
        return true;
      }
      waiters.addLast(new Waiter(bytes, whenGranted));
    }
    waits.increment();
    return false;
  }

  /** Gives back {@code bytes} taken earlier and grants the waiters that now fit, in order. */
  public void release(long bytes) {
    if (bytes == 0) {
      return;
    }
    List<Runnable> granted = new ArrayList<>();
    synchronized (this) {
      if (bytes < 0 || bytes > held) {
        throw new IllegalStateException("release of " + bytes + " bytes, " + held + " held");
      }
      held -= bytes;
      while (!waiters.isEmpty() && held + waiters.peekFirst().bytes <= capacity) {
        Waiter w = waiters.pollFirst();
        held += w.bytes;
        granted.add(w.granted);
      }
    }
    for (Runnable r : granted) {
      try {
        grantExecutor.execute(r);
      } catch (RejectedExecutionException e) {
        // shutting down: the calls are being closed, nobody waits for these bytes any more
      }
    }
  }

  public long capacity() {
    return capacity;
  }

  /** Bytes taken and not yet given back. */
  public synchronized long held() {
    return held;
  }

  /** Callers waiting now. */
  public synchronized int waiting() {
    return waiters.size();
  }

  /** How many requests had to wait. */
  public long waits() {
    return waits.sum();
  }
}
