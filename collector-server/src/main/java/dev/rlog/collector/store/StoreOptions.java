package dev.rlog.collector.store;

import java.util.Objects;

/**
 * Settings of a {@link SegmentStore}.
 *
 * @param maxSegmentBytes rotation size (see {@link RotationPolicy}); must be &gt; 0
 * @param fsync when the commit point advances
 */
public record StoreOptions(long maxSegmentBytes, FsyncPolicy fsync) {

  public StoreOptions {
    if (maxSegmentBytes <= 0) {
      throw new IllegalArgumentException("maxSegmentBytes must be > 0, got " + maxSegmentBytes);
    }
    Objects.requireNonNull(fsync, "fsync");
  }

  /** 128 MiB segments, {@link FsyncPolicy#NEVER}. */
  public static StoreOptions defaults() {
    return new StoreOptions(RotationPolicy.DEFAULT_MAX_SEGMENT_BYTES, FsyncPolicy.DEFAULT);
  }

  public StoreOptions withMaxSegmentBytes(long bytes) {
    return new StoreOptions(bytes, fsync);
  }

  public StoreOptions withFsync(FsyncPolicy policy) {
    return new StoreOptions(maxSegmentBytes, policy);
  }
}
