package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.OffsetRegistry;
import dev.rlog.common.time.Clock;
import java.io.IOException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the registry's committed snapshot to the {@link OffsetStore} when it changed: right away
 * when asked ({@link #checkpoint()}, used before the first line of a new file instance is shipped),
 * otherwise at most once per interval ({@link #checkpointIfDue()}), so a busy agent does one
 * fsync per interval rather than one per acknowledged batch. A commit not yet on disk at a crash
 * only means those lines are sent again and the collector skips them by offset.
 *
 * <p>Threading: owner thread of the registry only. A failed write leaves the registry marked
 * unpersisted, so the next call tries again.
 */
public final class Checkpointer {
  private static final Logger log = LoggerFactory.getLogger(Checkpointer.class);

  private final OffsetRegistry registry;
  private final OffsetStore store;
  private final Clock clock;
  private final long intervalNanos;
  private long lastAttemptNanos;
  private boolean failing;

  public Checkpointer(OffsetRegistry registry, OffsetStore store, Clock clock, Duration interval) {
    this.registry = registry;
    this.store = store;
    this.clock = clock;
    this.intervalNanos = interval.toNanos();
    this.lastAttemptNanos = clock.nanoTime();
  }

  /**
   * Persists now if anything changed.
   *
   * @return true if a file was written
   */
  public boolean checkpoint() throws IOException {
    lastAttemptNanos = clock.nanoTime();
    if (!registry.hasUnpersistedChanges()) {
      return false;
    }
    long version = registry.version();
    try {
      store.save(registry.committedSnapshot());
    } catch (IOException e) {
      if (!failing) {
        log.warn("cannot write positions to {}; will retry", store.file(), e);
        failing = true;
      }
      throw e;
    }
    if (failing) {
      log.info("positions written to {} again", store.file());
      failing = false;
    }
    registry.markPersisted(version);
    return true;
  }

  /** Persists if something changed and the interval since the last attempt has passed. */
  public boolean checkpointIfDue() throws IOException {
    if (clock.nanoTime() - lastAttemptNanos < intervalNanos) {
      return false;
    }
    return checkpoint();
  }

  /** nanoTime when {@link #checkpointIfDue()} would act next. */
  public long nextDueNanos() {
    return lastAttemptNanos + intervalNanos;
  }

  public OffsetStore store() {
    return store;
  }
}
