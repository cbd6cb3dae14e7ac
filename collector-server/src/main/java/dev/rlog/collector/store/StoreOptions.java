package dev.rlog.collector.store;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of a {@link SegmentStore}.
 *
 * @param maxSegmentBytes rotation size (see {@link RotationPolicy}); must be &gt; 0
 * @param fsync when the commit point advances
 * @param dedupRetention how long the duplicate filter remembers a file instance after it last
 *     advanced (see {@link PositionTable}); must be &gt; 0
 * @param dedupMaxInstances how many file instances the duplicate filter remembers at most; past
 *     it the least recently advanced is forgotten; must be &gt;= 1
 * @param dropPageCache whether segment bytes on disk leave the OS page cache but the active
 *     segment's last 32 MiB ({@link PageCache}); {@code store.drop_page_cache}
 */
public record StoreOptions(
    long maxSegmentBytes, FsyncPolicy fsync, Duration dedupRetention, int dedupMaxInstances,
    boolean dropPageCache) {

  /** {@code store.dedup_retention}: DESIGN.md's 7 days. */
  public static final Duration DEFAULT_DEDUP_RETENTION = Duration.ofDays(7);
  /**
   * {@code store.dedup_max_instances}. An entry costs about 180 bytes of heap with agent-style
   * file instance ids (measured by {@code PositionTableMemoryTest}), so 50,000 entries take about
   * 9 MiB of the default 112 MiB collector heap, and the checkpoint about 3 MiB (57 bytes an
   * entry). 50,000 is e.g. 500 agents with 14 log files each rotated daily for a week.
   */
  public static final int DEFAULT_DEDUP_MAX_INSTANCES = 50_000;

  public StoreOptions {
    if (maxSegmentBytes <= 0) {
      throw new IllegalArgumentException("maxSegmentBytes must be > 0, got " + maxSegmentBytes);
    }
    Objects.requireNonNull(fsync, "fsync");
    Objects.requireNonNull(dedupRetention, "dedupRetention");
    if (dedupRetention.isNegative() || dedupRetention.isZero()) {
      throw new IllegalArgumentException("dedupRetention must be > 0, got " + dedupRetention);
    }
    if (dedupMaxInstances < 1) {
      throw new IllegalArgumentException(
          "dedupMaxInstances must be >= 1, got " + dedupMaxInstances);
    }
  }

  /** With the default duplicate-filter bounds, dropping written pages from the cache. */
  public StoreOptions(long maxSegmentBytes, FsyncPolicy fsync) {
    this(maxSegmentBytes, fsync, DEFAULT_DEDUP_RETENTION, DEFAULT_DEDUP_MAX_INSTANCES, true);
  }

  /** 128 MiB segments, {@link FsyncPolicy#NEVER}, default duplicate-filter bounds. */
  public static StoreOptions defaults() {
    return new StoreOptions(RotationPolicy.DEFAULT_MAX_SEGMENT_BYTES, FsyncPolicy.DEFAULT);
  }

  public StoreOptions withMaxSegmentBytes(long bytes) {
    return new StoreOptions(bytes, fsync, dedupRetention, dedupMaxInstances, dropPageCache);
  }

  public StoreOptions withFsync(FsyncPolicy policy) {
    return new StoreOptions(maxSegmentBytes, policy, dedupRetention, dedupMaxInstances,
        dropPageCache);
  }

  public StoreOptions withDedup(Duration retention, int maxInstances) {
    return new StoreOptions(maxSegmentBytes, fsync, retention, maxInstances, dropPageCache);
  }

  public StoreOptions withDropPageCache(boolean drop) {
    return new StoreOptions(maxSegmentBytes, fsync, dedupRetention, dedupMaxInstances, drop);
  }
}
