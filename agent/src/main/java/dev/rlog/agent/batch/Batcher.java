package dev.rlog.agent.batch;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Timestamp;
import dev.rlog.common.time.Clock;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * Groups read lines into {@link LogBatch}es, in the style of Kafka's {@code RecordAccumulator}:
 * lines are appended to the newest open batch; {@link #poll(long, int)} is a pure function of the
 * time it is given, returning the batches that are ready plus the time to look again, and the
 * caller waits exactly that long (or until {@link Listener#pollNeeded()}).
 *
 * <p><b>When a batch is ready.</b> When it holds {@code batchSize} lines, or its size reaches
 * {@code batchMaxBytes} (a line that would take it over starts the next batch instead; a line
 * larger than {@code batchMaxBytes} on its own makes a batch of one), or its first line was
 * appended {@code flushInterval} ago (per the injected {@link Clock#nanoTime()}), or after
 * {@link #flushNow()}. Sizes are an upper bound of the line's encoded size in the batch (line,
 * label, file instance, offset, timestamp, field headers), so {@code batchMaxBytes} bounds the
 * message on the wire up to a batch header of under 100 bytes. One exception: a line that is not
 * valid UTF-8 is sent with U+FFFD replacements ({@code Log.line} is a proto {@code string}),
 * which can make it up to three times larger; such lines are counted.
 *
 * <p><b>Order and positions.</b> Batches come out in append order, lines in each in append order,
 * so the lines of one file instance never overtake each other. Each {@link ReadyBatch} carries, per
 * file instance, the highest end offset among its lines: once the collector has acknowledged the
 * batch <em>and every earlier batch holding lines of that file instance</em>, that offset can be
 * committed. Lines with an empty file instance carry no position.
 *
 * <p><b>Bound and what happens when full.</b> The encoded size of lines appended but not yet
 * returned by {@code poll} is bounded by {@code maxBufferedBytes}. An {@link #append} that would
 * exceed it is refused (returns false, counted), nothing is dropped: the caller keeps the line
 * and pauses reading until {@link Listener#spaceAvailable()}, then appends it again. A refusal also
 * closes the open batch, since it cannot grow any more, so the poller need not wait for its
 * deadline. When the buffer is empty a line is always accepted, so no line is too large to pass.
 * Batches returned by {@code poll} are the caller's to bound (its in-flight window: poll with
 * {@code maxBatches} = free slots).
 *
 * <p><b>Threading.</b> Thread-safe: typically the tailer appends and the shipper polls. One monitor,
 * held for list updates only; protos are built and listeners called outside it, on the calling
 * thread. No I/O, no sleeping, time only from the injected clock.
 */
public final class Batcher {
  /** {@link Poll#nextDeadlineNanos()} when nothing is buffered: wait for {@code pollNeeded}. */
  public static final long NO_DEADLINE = Long.MAX_VALUE;
  /** Upper bound of a Log's timestamp field: tag, length, seconds and nanos varints. */
  static final int TIMESTAMP_FIELD_BOUND = 1 + 1 + (1 + 10) + (1 + 5);

  /** Batch limits and the buffer bound. */
  public record Options(int batchSize, long batchMaxBytes, Duration flushInterval,
      long maxBufferedBytes) {
    /** The buffer bound if the wiring has no better idea: room for this many full batches. */
    public static final int DEFAULT_BUFFERED_BATCHES = 4;

    public Options {
      if (batchSize < 1) {
        throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
      }
      if (batchMaxBytes < 1) {
        throw new IllegalArgumentException("batchMaxBytes must be at least 1, got " + batchMaxBytes);
      }
      if (flushInterval == null || flushInterval.isNegative() || flushInterval.isZero()) {
        throw new IllegalArgumentException("flushInterval must be positive");
      }
      if (maxBufferedBytes < batchMaxBytes) {
        throw new IllegalArgumentException("maxBufferedBytes (" + maxBufferedBytes
            + ") must be at least batchMaxBytes (" + batchMaxBytes + ")");
      }
    }

    /** Options buffering at most {@value #DEFAULT_BUFFERED_BATCHES} full batches. */
    public static Options of(int batchSize, long batchMaxBytes, Duration flushInterval) {
      long bound = batchMaxBytes > Long.MAX_VALUE / DEFAULT_BUFFERED_BATCHES
          ? Long.MAX_VALUE : batchMaxBytes * DEFAULT_BUFFERED_BATCHES;
      return new Options(batchSize, batchMaxBytes, flushInterval, bound);
    }
  }

  /**
   * Wake-ups for the two threads around the batcher. Called on the appending or polling thread,
   * outside the batcher's monitor; must be quick and must not call back into the batcher while
   * holding a lock the other thread needs.
   */
  public interface Listener {
    Listener NONE = new Listener() {};

    /**
     * A batch became ready or a new batch started (so there is a new deadline): the poller should
     * poll now instead of waiting for the deadline it was given.
     */
    default void pollNeeded() {}

    /** A refused append may now succeed: {@code poll} took batches out after a refusal. */
    default void spaceAvailable() {}
  }

  /**
   * A batch to send. {@code endOffsets}: per file instance, the highest end offset (offset after
   * the line, newline included) among the batch's lines; commit it after the acknowledgement.
   * {@code linesByLabel}: how many of its lines each source label has, counted while the batch
   * is built so the shipper's acknowledgement counters need not walk the protos again. {@code
   * bytes} is the size accounted for it (see the class comment).
   */
  public record ReadyBatch(LogBatch batch, Map<String, Long> endOffsets,
      Map<String, Long> linesByLabel, int lineCount, long bytes) {}

  /**
   * What {@code poll} returns: ready batches (oldest first) and when to poll again: {@code now}
   * if more are ready than were asked for, the open batch's flush deadline, or {@link
   * #NO_DEADLINE} if nothing is buffered.
   */
  public record Poll(List<ReadyBatch> batches, long nextDeadlineNanos) {
    public boolean hasDeadline() {
      return nextDeadlineNanos != NO_DEADLINE;
    }

    /** Nanoseconds to wait from {@code nowNanos}: 0 if due, {@code Long.MAX_VALUE} if none. */
    public long waitNanos(long nowNanos) {
      if (!hasDeadline()) {
        return Long.MAX_VALUE;
      }
      return Math.max(0, nextDeadlineNanos - nowNanos);
    }
  }

  private record Pending(String label, String fileInstance, long offset, ByteString line,
      long endOffset, long epochMillis) {}

  private static final class Building {
    final long createdNanos;
    final ArrayList<Pending> lines = new ArrayList<>();
    long bytes;
    boolean closed;

    Building(long createdNanos) {
      this.createdNanos = createdNanos;
    }
  }

  private final Options options;
  private final long flushNanos;
  private final Clock clock;
  private final Listener listener;
  private final String idPrefix;

  // Guarded by this.
  private final ArrayDeque<Building> batches = new ArrayDeque<>();
  private long bufferedBytes;
  private int bufferedLines;
  private boolean refusedSincePoll;
  private long nextSeq;
  private long refusedAppends;
  private long invalidUtf8Lines;

  public Batcher(Options options, Clock clock, Listener listener) {
    this(options, clock, listener, UUID.randomUUID().toString());
  }

  /**
   * @param idPrefix batch ids are {@code idPrefix-<sequence>}; the default, a random uuid, keeps
   *     ids unique across restarts
   */
  public Batcher(Options options, Clock clock, Listener listener, String idPrefix) {
    this.options = Objects.requireNonNull(options, "options");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.idPrefix = Objects.requireNonNull(idPrefix, "idPrefix");
    this.flushNanos = options.flushInterval().toNanos();
  }

  public Options options() {
    return options;
  }

  /**
   * Adds one line.
   *
   * @param label the source's label
   * @param fileInstance the file instance identity; empty for a line without position
   * @param offset byte offset of the line's first byte in that file instance
   * @param line the line's bytes, without the newline; kept by reference (do not reuse its buffer)
   * @param endOffset the offset just after the line including its newline: where reading resumes
   * @return false if the buffer is full: the line was not taken, pause and append it again after
   *     {@link Listener#spaceAvailable()}
   */
  public boolean append(String label, String fileInstance, long offset, ByteString line,
      long endOffset) {
    Objects.requireNonNull(label, "label");
    Objects.requireNonNull(fileInstance, "fileInstance");
    Objects.requireNonNull(line, "line");
    if (offset < 0 || endOffset < offset) {
      throw new IllegalArgumentException(
          "need 0 <= offset <= endOffset, got " + offset + " and " + endOffset);
    }
    long size = encodedSize(label, fileInstance, offset, line);
    boolean wake = false;
    boolean accepted;
    synchronized (this) {
      Building open = openBatch();
      accepted = bufferedBytes == 0 || bufferedBytes + size <= options.maxBufferedBytes();
      if (!accepted) {
        refusedAppends++;
        refusedSincePoll = true;
        if (open != null) {
          open.closed = true; // it cannot grow until space frees: let it go now
        }
        wake = open != null;
      } else {
        if (open != null && open.bytes + size > options.batchMaxBytes()) {
          open.closed = true;
          open = null;
        }
        if (open == null) {
          open = new Building(clock.nanoTime());
          batches.addLast(open);
          wake = true;
        }
        open.lines.add(new Pending(label, fileInstance, offset, line, endOffset,
            clock.currentTimeMillis()));
        open.bytes += size;
        bufferedBytes += size;
        bufferedLines++;
        if (open.lines.size() >= options.batchSize() || open.bytes >= options.batchMaxBytes()) {
          open.closed = true;
          wake = true;
        }
      }
    }
    if (wake) {
      listener.pollNeeded();
    }
    return accepted;
  }

  /** {@link #poll(long, int)} with no limit on the number of batches. */
  public Poll poll(long nowNanos) {
    return poll(nowNanos, Integer.MAX_VALUE);
  }

  /**
   * Takes out the batches that are ready at {@code nowNanos}, oldest first, at most {@code
   * maxBatches} of them (0 only computes the deadline).
   */
  public Poll poll(long nowNanos, int maxBatches) {
    if (maxBatches < 0) {
      throw new IllegalArgumentException("maxBatches must not be negative");
    }
    List<Building> drained = new ArrayList<>();
    long firstSeq;
    long deadline;
    boolean space;
    synchronized (this) {
      while (drained.size() < maxBatches && !batches.isEmpty() && isReady(batches.peekFirst(), nowNanos)) {
        Building b = batches.pollFirst();
        bufferedBytes -= b.bytes;
        bufferedLines -= b.lines.size();
        drained.add(b);
      }
      firstSeq = nextSeq;
      nextSeq += drained.size();
      Building head = batches.peekFirst();
      if (head == null) {
        deadline = NO_DEADLINE;
      } else if (isReady(head, nowNanos)) {
        deadline = nowNanos;
      } else {
        deadline = head.createdNanos + flushNanos;
      }
      space = refusedSincePoll && !drained.isEmpty();
      if (space) {
        refusedSincePoll = false;
      }
    }
    List<ReadyBatch> out = new ArrayList<>(drained.size());
    if (!drained.isEmpty()) {
      Timestamp sendAt = timestamp(clock.currentTimeMillis());
      for (int i = 0; i < drained.size(); i++) {
        out.add(build(drained.get(i), idPrefix + "-" + (firstSeq + i), sendAt));
      }
    }
    if (space) {
      listener.spaceAvailable();
    }
    return new Poll(Collections.unmodifiableList(out), deadline);
  }

  /**
   * Makes the open batch ready now regardless of its age, e.g. at shutdown after reading has
   * stopped, so the next {@code poll} returns everything buffered.
   */
  public void flushNow() {
    boolean wake = false;
    synchronized (this) {
      Building open = openBatch();
      if (open != null) {
        open.closed = true;
        wake = true;
      }
    }
    if (wake) {
      listener.pollNeeded();
    }
  }

  /** Encoded bytes of the lines appended and not yet polled. */
  public synchronized long bufferedBytes() {
    return bufferedBytes;
  }

  /** Lines appended and not yet polled. */
  public synchronized int bufferedLines() {
    return bufferedLines;
  }

  /** Appends refused because the buffer was full. */
  public synchronized long refusedAppends() {
    return refusedAppends;
  }

  /** Lines sent with U+FFFD replacements because they were not valid UTF-8. */
  public synchronized long invalidUtf8Lines() {
    return invalidUtf8Lines;
  }

  /**
   * An upper bound of the bytes {@code Log{label, line, timestamp, file_instance, offset}} takes
   * inside a {@code LogBatch}, including the repeated field's tag and length.
   */
  static long encodedSize(String label, String fileInstance, long offset, ByteString line) {
    long log = 1L + CodedOutputStream.computeStringSizeNoTag(label)
        + 1 + CodedOutputStream.computeBytesSizeNoTag(line)
        + TIMESTAMP_FIELD_BOUND
        + 1 + CodedOutputStream.computeStringSizeNoTag(fileInstance)
        + 1 + CodedOutputStream.computeUInt64SizeNoTag(offset);
    return 1 + CodedOutputStream.computeUInt64SizeNoTag(log) + log;
  }

  private Building openBatch() {
    Building last = batches.peekLast();
    return last == null || last.closed ? null : last;
  }

  private boolean isReady(Building b, long nowNanos) {
    return b.closed || nowNanos - b.createdNanos >= flushNanos;
  }

  private ReadyBatch build(Building b, String id, Timestamp sendAt) {
    LogBatch.Builder batch = LogBatch.newBuilder().setBatchId(id).setSendAt(sendAt);
    Map<String, Long> ends = new LinkedHashMap<>();
    Map<String, Long> byLabel = new LinkedHashMap<>();
    long lastMillis = Long.MIN_VALUE;
    Timestamp ts = null;
    int invalid = 0;
    for (Pending p : b.lines) {
      if (ts == null || p.epochMillis() != lastMillis) {
        // Lines read in the same millisecond share one Timestamp message.
        lastMillis = p.epochMillis();
        ts = timestamp(lastMillis);
      }
      Log.Builder log = Log.newBuilder()
          .setLabel(p.label())
          .setTimestamp(ts)
          .setFileInstance(p.fileInstance())
          .setOffset(p.offset());
      try {
        log.setLineBytes(p.line()); // validates UTF-8 in the same pass as it would be copied
      } catch (IllegalArgumentException notUtf8) {
        log.setLine(p.line().toString(StandardCharsets.UTF_8));
        invalid++;
      }
      batch.addLogs(log);
      byLabel.merge(p.label(), 1L, Long::sum);
      if (!p.fileInstance().isEmpty()) {
        ends.merge(p.fileInstance(), p.endOffset(), Math::max);
      }
    }
    if (invalid > 0) {
      synchronized (this) {
        invalidUtf8Lines += invalid;
      }
    }
    return new ReadyBatch(batch.build(), Collections.unmodifiableMap(ends),
        Collections.unmodifiableMap(byLabel), b.lines.size(), b.bytes);
  }

  private static Timestamp timestamp(long epochMillis) {
    return Timestamp.newBuilder()
        .setSeconds(Math.floorDiv(epochMillis, 1000L))
        .setNanos((int) Math.floorMod(epochMillis, 1000L) * 1_000_000)
        .build();
  }
}
