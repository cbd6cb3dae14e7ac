package dev.rlog.common.time;

import java.time.Instant;

/**
 * The one source of time. Only {@link SystemClock} reads the real clocks; tests use the
 * {@code FakeClock} of the common test-jar and advance it instead of sleeping.
 */
public interface Clock {
  /** Monotonic nanoseconds, for durations and deadlines only. */
  long nanoTime();

  /** Wall-clock milliseconds since the epoch, for timestamps. */
  long currentTimeMillis();

  default Instant now() {
    return Instant.ofEpochMilli(currentTimeMillis());
  }

  static Clock system() {
    return SystemClock.INSTANCE;
  }
}
