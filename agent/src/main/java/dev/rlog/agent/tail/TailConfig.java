package dev.rlog.agent.tail;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of the tailer, with named defaults; every field is validated when built, with a
 * message naming the key. Immutable; any thread.
 */
public final class TailConfig {
  /** Where a file first seen (no committed position) starts. */
  public enum StartPosition {
    /** From byte 0: every line of the file. */
    BEGINNING,
    /**
     * From its current end, only for files present at the first scan of a source that has no
     * committed positions yet (the agent's first start with that source). Files that appear later
     * (rotation, new files, also while the agent was down) start at 0 so nothing written to them
     * is missed.
     */
    END
  }

  public static final int DEFAULT_BLOCK_BYTES = 256 * 1024;
  public static final int DEFAULT_MAX_LINE_BYTES = LineSplitter.DEFAULT_MAX_LINE_BYTES;
  public static final int DEFAULT_FINGERPRINT_BYTES = FileIdentity.DEFAULT_FINGERPRINT_BYTES;
  public static final Duration DEFAULT_PARTIAL_LINE_WAIT = Duration.ofSeconds(5);
  public static final Duration DEFAULT_RESCAN_INTERVAL = Duration.ofSeconds(1);
  /**
   * With inotify events for the directory the full rescan is only a safety net (an event queue
   * overflow, a missed event): every rename, creation, deletion and growth wakes the tailer.
   */
  public static final Duration DEFAULT_WATCHED_RESCAN_INTERVAL = Duration.ofSeconds(10);
  public static final Duration DEFAULT_DRAIN_IDLE = Duration.ofSeconds(10);
  public static final Duration DEFAULT_COPY_GRACE = Duration.ofSeconds(10);
  public static final Duration DEFAULT_RETENTION = Duration.ofMinutes(5);
  public static final Duration DEFAULT_SINK_RETRY = Duration.ofMillis(100);
  public static final Duration DEFAULT_CHECKPOINT_INTERVAL = Duration.ofSeconds(1);
  public static final int DEFAULT_MAX_BLOCKS_PER_POLL = 16;
  /**
   * Per source, like Filebeat's {@code harvester_limit}: enough for a host's live logs, small
   * enough that open files and their buffers stay a few MiB.
   */
  public static final int DEFAULT_MAX_OPEN_FILES = 128;

  private final int blockBytes;
  private final int maxLineBytes;
  private final int fingerprintBytes;
  private final Duration partialLineWait;
  private final Duration rescanInterval;
  private final Duration watchedRescanInterval;
  private final Duration drainIdle;
  private final Duration copyGrace;
  private final Duration retention;
  private final Duration sinkRetry;
  private final Duration checkpointInterval;
  private final int maxBlocksPerPoll;
  private final int maxOpenFiles;
  private final StartPosition startPosition;

  private TailConfig(Builder b) {
    this.blockBytes = atLeast("tail.block_bytes", b.blockBytes, 4096);
    this.maxLineBytes = atLeast("tail.max_line_bytes", b.maxLineBytes, 4);
    this.fingerprintBytes = atLeast("tail.fingerprint_bytes", b.fingerprintBytes, 1);
    this.partialLineWait = positive("tail.partial_line_wait", b.partialLineWait);
    this.rescanInterval = positive("tail.rescan_interval", b.rescanInterval);
    this.watchedRescanInterval =
        positive("tail.watched_rescan_interval", b.watchedRescanInterval);
    this.drainIdle = positive("tail.drain_idle", b.drainIdle);
    this.copyGrace = positive("tail.copy_grace", b.copyGrace);
    this.retention = positive("tail.retention", b.retention);
    this.sinkRetry = positive("tail.sink_retry", b.sinkRetry);
    this.checkpointInterval = positive("tail.checkpoint_interval", b.checkpointInterval);
    this.maxBlocksPerPoll = atLeast("tail.max_blocks_per_poll", b.maxBlocksPerPoll, 1);
    this.maxOpenFiles = atLeast("tail.max_open_files", b.maxOpenFiles, 1);
    this.startPosition = Objects.requireNonNull(b.startPosition, "tail.start_position");
    if (fingerprintBytes > blockBytes) {
      throw new IllegalArgumentException("tail.fingerprint_bytes (" + fingerprintBytes
          + ") must not exceed tail.block_bytes (" + blockBytes + ")");
    }
    if (copyGrace.compareTo(retention) > 0) {
      throw new IllegalArgumentException("tail.copy_grace (" + copyGrace
          + ") must not exceed tail.retention (" + retention + "): a copy must be recognised "
          + "while its original is still remembered");
    }
  }

  public static TailConfig defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Bytes read from a file per read call; the read buffer is this big (one per tail thread). */
  public int blockBytes() {
    return blockBytes;
  }

  /** Longer lines are cut into pieces of at most this many bytes. */
  public int maxLineBytes() {
    return maxLineBytes;
  }

  /** {@code N} of the fingerprint rule in {@link FileIdentity}. */
  public int fingerprintBytes() {
    return fingerprintBytes;
  }

  /** How long a last line without newline is held back before it is shipped as it is. */
  public Duration partialLineWait() {
    return partialLineWait;
  }

  /** Full rescan at least this often, whatever the WatchService reports. */
  public Duration rescanInterval() {
    return rescanInterval;
  }

  /** Full rescan at least this often while the directory's events are watched. */
  public Duration watchedRescanInterval() {
    return watchedRescanInterval;
  }

  /** A file no longer at a watched path is closed after it stopped growing for this long. */
  public Duration drainIdle() {
    return drainIdle;
  }

  /**
   * A new file that starts like a file still being read waits this long as a possible
   * copytruncate copy before it is read from 0 as a file of its own.
   */
  public Duration copyGrace() {
    return copyGrace;
  }

  /** A closed instance no longer seen is remembered this long (copies, restarts), then forgotten. */
  public Duration retention() {
    return retention;
  }

  /** When the sink refused a batch, offer again after this long unless woken earlier. */
  public Duration sinkRetry() {
    return sinkRetry;
  }

  /** Committed positions are written to disk at most this often (and at shutdown). */
  public Duration checkpointInterval() {
    return checkpointInterval;
  }

  /** Fairness: at most this many blocks are read from one file per poll. */
  public int maxBlocksPerPoll() {
    return maxBlocksPerPoll;
  }

  /**
   * At most this many files of one source are open at once. Files with unread bytes beyond that
   * wait, rotated ones first, then oldest first; a caught-up file may be closed to make room and is
   * opened again when it grows.
   */
  public int maxOpenFiles() {
    return maxOpenFiles;
  }

  public StartPosition startPosition() {
    return startPosition;
  }

  private static int atLeast(String key, int value, int min) {
    if (value < min) {
      throw new IllegalArgumentException(key + " must be >= " + min + ", was " + value);
    }
    return value;
  }

  private static Duration positive(String key, Duration d) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(key + " must be a positive duration, was " + d);
    }
    return d;
  }

  /** Mutable builder; {@link #build()} validates. */
  public static final class Builder {
    private int blockBytes = DEFAULT_BLOCK_BYTES;
    private int maxLineBytes = DEFAULT_MAX_LINE_BYTES;
    private int fingerprintBytes = DEFAULT_FINGERPRINT_BYTES;
    private Duration partialLineWait = DEFAULT_PARTIAL_LINE_WAIT;
    private Duration rescanInterval = DEFAULT_RESCAN_INTERVAL;
    private Duration watchedRescanInterval = DEFAULT_WATCHED_RESCAN_INTERVAL;
    private Duration drainIdle = DEFAULT_DRAIN_IDLE;
    private Duration copyGrace = DEFAULT_COPY_GRACE;
    private Duration retention = DEFAULT_RETENTION;
    private Duration sinkRetry = DEFAULT_SINK_RETRY;
    private Duration checkpointInterval = DEFAULT_CHECKPOINT_INTERVAL;
    private int maxBlocksPerPoll = DEFAULT_MAX_BLOCKS_PER_POLL;
    private int maxOpenFiles = DEFAULT_MAX_OPEN_FILES;
    private StartPosition startPosition = StartPosition.BEGINNING;

    private Builder() {}

    public Builder blockBytes(int v) {
      blockBytes = v;
      return this;
    }

    public Builder maxLineBytes(int v) {
      maxLineBytes = v;
      return this;
    }

    public Builder fingerprintBytes(int v) {
      fingerprintBytes = v;
      return this;
    }

    public Builder partialLineWait(Duration v) {
      partialLineWait = v;
      return this;
    }

    public Builder rescanInterval(Duration v) {
      rescanInterval = v;
      return this;
    }

    public Builder watchedRescanInterval(Duration v) {
      watchedRescanInterval = v;
      return this;
    }

    public Builder drainIdle(Duration v) {
      drainIdle = v;
      return this;
    }

    public Builder copyGrace(Duration v) {
      copyGrace = v;
      return this;
    }

    public Builder retention(Duration v) {
      retention = v;
      return this;
    }

    public Builder sinkRetry(Duration v) {
      sinkRetry = v;
      return this;
    }

    public Builder checkpointInterval(Duration v) {
      checkpointInterval = v;
      return this;
    }

    public Builder maxBlocksPerPoll(int v) {
      maxBlocksPerPoll = v;
      return this;
    }

    public Builder maxOpenFiles(int v) {
      maxOpenFiles = v;
      return this;
    }

    public Builder startPosition(StartPosition v) {
      startPosition = v;
      return this;
    }

    public TailConfig build() {
      return new TailConfig(this);
    }
  }
}
