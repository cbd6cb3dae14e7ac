package dev.rlog.collector.flow;

/**
 * Pure hysteresis decision for ingest backpressure. The gate closes when the queued bytes or
 * records rise above their high watermark and opens again only when both are at or below their
 * low watermark, so readers do not flap around a single threshold.
 *
 * <p>Not thread-safe: the owner ({@link IngestQueue}) calls it under its lock.
 */
public final class WatermarkGate {
  /** What a change of the queue's level asks the readers to do. */
  public enum Transition {
    NONE,
    PAUSE,
    RESUME
  }

  private final long highBytes;
  private final long lowBytes;
  private final long highRecords;
  private final long lowRecords;
  private boolean paused;

  public WatermarkGate(long highBytes, long lowBytes, long highRecords, long lowRecords) {
    if (lowBytes < 0 || highBytes <= lowBytes) {
      throw new IllegalArgumentException(
          "byte watermarks need 0 <= low < high, got low=" + lowBytes + " high=" + highBytes);
    }
    if (lowRecords < 0 || highRecords <= lowRecords) {
      throw new IllegalArgumentException(
          "record watermarks need 0 <= low < high, got low=" + lowRecords + " high=" + highRecords);
    }
    this.highBytes = highBytes;
    this.lowBytes = lowBytes;
    this.highRecords = highRecords;
    this.lowRecords = lowRecords;
  }

  /** Feeds the current level; returns the transition it causes, if any. */
  public Transition update(long queuedBytes, long queuedRecords) {
    if (!paused && (queuedBytes > highBytes || queuedRecords > highRecords)) {
      paused = true;
      return Transition.PAUSE;
    }
    if (paused && queuedBytes <= lowBytes && queuedRecords <= lowRecords) {
      paused = false;
      return Transition.RESUME;
    }
    return Transition.NONE;
  }

  public boolean isPaused() {
    return paused;
  }
}
