package dev.rlog.collector.tcp;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One budget for the bytes of incomplete records across all TCP connections (DESIGN.md
 * "Backpressure": a record announced but not finished must not pin its bytes per connection
 * without limit).
 *
 * <p>Each connection reports what its decoder holds after every read ({@link #hold}). When a
 * report would take the total above the limit, the connection holding the largest partial record
 * (the oldest among equals) is evicted: its share is taken off at once and it is told through
 * {@link Holder#evict()} to close. If the asking connection is itself the largest, it is refused
 * instead ({@code hold} returns false) and closes. A connection evicted once stays refused until
 * it {@link #release}s. So the total stays within the limit plus what one read adds.
 *
 * <p>The decoder grows its buffer with what arrives, at most to twice that, so the heap these
 * records take is at most twice the limit.
 *
 * <p><b>Threading.</b> Called from every event loop; one lock, held for a map update (a scan of
 * the holders only when over the limit). {@link Holder#evict()} runs outside the lock and must
 * only schedule work on the holder's own loop.
 */
final class PartialBudget {
  /** A connection holding partial bytes. */
  interface Holder {
    /** Over the budget and this is the largest: close (schedule it on your own thread). */
    void evict();
  }

  private final long limit;
  private final Map<Holder, Long> held = new LinkedHashMap<>();
  private final Set<Holder> evicted = new HashSet<>();
  private long used;

  PartialBudget(long limit) {
    if (limit < 0) {
      throw new IllegalArgumentException("limit must be >= 0, got " + limit);
    }
    this.limit = limit;
  }

  /**
   * Sets what {@code h} holds now. False when {@code h} must close: it was evicted, or it is the
   * largest holder and its bytes do not fit.
   */
  boolean hold(Holder h, long bytes) {
    List<Holder> victims = new ArrayList<>();
    boolean granted;
    synchronized (this) {
      if (evicted.contains(h)) {
        return false;
      }
      long current = held.getOrDefault(h, 0L);
      granted = true;
      while (used - current + bytes > limit) {
        Holder largest = null;
        long largestBytes = -1;
        for (Map.Entry<Holder, Long> e : held.entrySet()) {
          if (e.getKey() != h && e.getValue() > largestBytes) {
            largest = e.getKey();
            largestBytes = e.getValue();
          }
        }
        if (largest == null || largestBytes <= bytes) {
          granted = false; // the asking connection is the largest: it goes
          break;
        }
        held.remove(largest);
        used -= largestBytes;
        evicted.add(largest);
        victims.add(largest);
      }
      used -= current;
      if (granted && bytes > 0) {
        held.put(h, bytes);
        used += bytes;
      } else {
        held.remove(h);
        if (!granted) {
          evicted.add(h);
        }
      }
    }
    victims.forEach(Holder::evict);
    return granted;
  }

  /** The connection closed: what it held is free, and it is forgotten. */
  synchronized void release(Holder h) {
    Long b = held.remove(h);
    if (b != null) {
      used -= b;
    }
    evicted.remove(h);
  }

  synchronized long used() {
    return used;
  }

  long limit() {
    return limit;
  }
}
