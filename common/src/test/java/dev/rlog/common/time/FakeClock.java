package dev.rlog.common.time;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A clock that moves only when a test advances it. Thread-safe. */
public final class FakeClock implements Clock {
  private final AtomicLong nanos = new AtomicLong();
  private final AtomicLong epochMillis;

  public FakeClock() {
    this(1_700_000_000_000L);
  }

  public FakeClock(long startEpochMillis) {
    this.epochMillis = new AtomicLong(startEpochMillis);
  }

  public void advance(Duration d) {
    nanos.addAndGet(d.toNanos());
    epochMillis.addAndGet(d.toMillis());
  }

  @Override
  public long nanoTime() {
    return nanos.get();
  }

  @Override
  public long currentTimeMillis() {
    return epochMillis.get();
  }
}
