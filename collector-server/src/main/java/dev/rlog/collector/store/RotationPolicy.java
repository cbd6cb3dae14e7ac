package dev.rlog.collector.store;

/**
 * Pure size-based rotation decision for the active segment.
 *
 * <p>A chunk is never split across segments: the store asks, before writing each chunk, whether
 * the active segment must be rotated first. It rotates when the segment already holds data and
 * the chunk would take it past the maximum. A segment that is still empty always takes the chunk,
 * so a single chunk larger than the maximum makes a segment on its own instead of wedging the
 * store. Immutable and thread-safe.
 */
public final class RotationPolicy {
  /** Default maximum segment size: 128 MiB. */
  public static final long DEFAULT_MAX_SEGMENT_BYTES = 128L * 1024 * 1024;

  private final long maxSegmentBytes;

  public RotationPolicy(long maxSegmentBytes) {
    if (maxSegmentBytes <= 0) {
      throw new IllegalArgumentException("maxSegmentBytes must be > 0, got " + maxSegmentBytes);
    }
    this.maxSegmentBytes = maxSegmentBytes;
  }

  public static RotationPolicy defaults() {
    return new RotationPolicy(DEFAULT_MAX_SEGMENT_BYTES);
  }

  /**
   * Whether to start a new segment before writing a chunk of {@code nextChunkBytes} into a
   * segment that currently holds {@code activeSegmentBytes}.
   */
  public boolean shouldRotate(long activeSegmentBytes, long nextChunkBytes) {
    if (activeSegmentBytes < 0 || nextChunkBytes < 0) {
      throw new IllegalArgumentException(
          "sizes must be >= 0, got segment=" + activeSegmentBytes + " chunk=" + nextChunkBytes);
    }
    // Compared as "remaining room" so that sizes near Long.MAX_VALUE cannot overflow.
    return activeSegmentBytes > 0 && nextChunkBytes > maxSegmentBytes - activeSegmentBytes;
  }

  public long maxSegmentBytes() {
    return maxSegmentBytes;
  }
}
