package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.FileIdentity;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSink;
import dev.rlog.agent.tail.OffsetRegistry;
import dev.rlog.agent.tail.TailConfig;
import dev.rlog.common.time.Clock;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the open instances of one source: block reads into the tail thread's shared buffer (a
 * plain file through its channel, from its position; a {@code .gz} sequentially), the instance's
 * {@link dev.rlog.agent.tail.LineSplitter}, and hand-off to the {@link LineSink}. It says what it
 * saw ({@link Outcome}); what that means for the instance is the tailer's decision.
 *
 * <p><b>When the sink is full.</b> A refused batch stays with its instance ({@code pending}) and
 * closes the {@link ReadGate}: no instance of the tail thread reads anything new until that batch
 * is taken, so at most one refused batch (one block's lines) waits in memory whatever the number
 * of files. A throwing sink counts as a refusal; nothing is lost.
 *
 * <p>Owner thread only; counters are read by the owner for its stats.
 */
final class InstanceReader {
  private static final Logger log = LoggerFactory.getLogger(InstanceReader.class);

  /** What one read found. */
  enum Outcome {
    /** Read its share of blocks; there may be more right away. */
    MORE,
    /** Nothing more to read now (at the end of the file, or the end of the {@code .gz}). */
    CAUGHT_UP,
    /** The sink refused the lines: the batch waits with the instance. */
    SINK_FULL,
    /** The file is smaller than what was seen of it: truncated. */
    SHRANK,
    /** The file no longer starts with its first line: truncated and written again. */
    HEAD_CHANGED
  }

  private final String label;
  private final TailConfig config;
  private final Clock clock;
  private final OffsetRegistry registry;
  private final LineSink sink;
  private final ReadGate gate;
  private final ByteBuffer readBuffer;
  /** The first bytes of a file, re-read after each block to see that it is still the same file. */
  private final ByteBuffer headBuffer;

  private long linesRead;
  private long bytesRead;
  private long sinkRefusals;
  private long piecesCut;
  private long partialsFlushed;
  private long errors;

  InstanceReader(String label, TailConfig config, Clock clock, OffsetRegistry registry,
      LineSink sink, ReadGate gate, ByteBuffer readBuffer) {
    this.label = label;
    this.config = config;
    this.clock = clock;
    this.registry = registry;
    this.sink = sink;
    this.gate = gate;
    this.readBuffer = readBuffer;
    this.headBuffer = ByteBuffer.allocate(config.fingerprintBytes());
  }

  /** Reads up to {@code maxBlocksPerPoll} blocks of an open instance. */
  Outcome read(TrackedFile f, long now) throws IOException {
    return f.gzip != null ? readGzip(f, now) : readPlain(f, now);
  }

  private Outcome readPlain(TrackedFile f, long now) throws IOException {
    for (int blocks = 0; blocks < config.maxBlocksPerPoll(); blocks++) {
      long size = f.channel.size();
      if (size < f.sizeSeen) {
        return Outcome.SHRANK;
      }
      f.sizeSeen = size;
      long pos = f.consumedPosition();
      if (size <= pos) {
        return Outcome.CAUGHT_UP;
      }
      readBuffer.clear();
      if (size - pos < readBuffer.capacity()) {
        readBuffer.limit((int) (size - pos));
      }
      int n = f.channel.read(readBuffer, pos);
      if (n <= 0) {
        return Outcome.CAUGHT_UP;
      }
      if (!sameHead(f)) {
        // Truncated and written again past our position since we last looked (copytruncate
        // under a fast writer): what was just read is the new content, at offsets that belong
        // to a new instance. Drop it; the caller decides (the old instance may go on in its
        // copy, the file starts over from 0).
        return Outcome.HEAD_CHANGED;
      }
      if (!consume(f, n, now)) {
        return Outcome.SINK_FULL;
      }
    }
    return Outcome.MORE;
  }

  private Outcome readGzip(TrackedFile f, long now) throws IOException {
    for (int blocks = 0; blocks < config.maxBlocksPerPoll(); blocks++) {
      int n = f.gzip.read(readBuffer.array(), readBuffer.capacity());
      f.sizeSeen = Math.max(f.sizeSeen, f.gzip.position());
      if (n <= 0) {
        return Outcome.CAUGHT_UP;
      }
      if (!consume(f, n, now)) {
        return Outcome.SINK_FULL;
      }
    }
    return f.gzip.ended() ? Outcome.CAUGHT_UP : Outcome.MORE;
  }

  /** Splits {@code n} bytes of the read buffer; false if the sink refused the lines. */
  private boolean consume(TrackedFile f, int n, long now) {
    f.lastGrowthNanos = now;
    bytesRead += n;
    long cutBefore = f.splitter.piecesCut();
    f.builder.expectBytes(n + f.splitter.partialLength());
    f.splitter.feed(readBuffer.array(), 0, n, f.builder.readAtMillis(clock.currentTimeMillis()));
    piecesCut += f.splitter.piecesCut() - cutBefore;
    long po = f.splitter.partialOffset();
    if (po != f.partialOffset) {
      f.partialOffset = po;
      f.partialSinceNanos = now;
    }
    return f.builder.isEmpty() || offer(f, f.builder.build());
  }

  /**
   * Whether the file still starts with the first line its identity was taken from. Checked after
   * each block read, so a block is only used if the file was still the same file when it was
   * read (a new first line identical to the old one is the one case this cannot see).
   */
  private boolean sameHead(TrackedFile f) throws IOException {
    headBuffer.clear();
    int len = FileProbe.readFully(f.channel, 0, headBuffer);
    String now = FileIdentity.fingerprint(headBuffer.array(), len, config.fingerprintBytes());
    return f.identity.fingerprint().equals(now);
  }

  /** Ships a last line without newline that waited {@code partialLineWait}. */
  void maybeFlushPartial(TrackedFile f, long now) {
    if (f.partialOffset >= 0
        && now - f.partialSinceNanos >= config.partialLineWait().toNanos()) {
      log.debug("{}: {} shipping a line without newline at offset {} after {}",
          label, f.path, f.partialOffset, config.partialLineWait());
      flushPartial(f);
    }
  }

  private void flushPartial(TrackedFile f) {
    if (f.splitter.flushPartial(f.builder.readAtMillis(clock.currentTimeMillis()))) {
      partialsFlushed++;
      f.partialOffset = -1;
      offer(f, f.builder.build());
    }
  }

  /**
   * Delivers what the instance holds and its partial last line, as it is; true once it can be
   * closed. Called again until it returns true.
   */
  boolean finish(TrackedFile f) {
    if (f.pending != null) {
      return false;
    }
    if (f.splitter.hasPartial() && registry.isDurable(f.id)) {
      if (gate.closed()) {
        return false;
      }
      flushPartial(f);
      return f.pending == null;
    }
    return true;
  }

  private boolean offer(TrackedFile f, LineBatch batch) {
    // Held before the sink sees it, so a throwing sink loses nothing either.
    f.pending = batch;
    return offerPending(f);
  }

  /** Offers the instance's held batch again; true once the sink took it. */
  boolean offerPending(TrackedFile f) {
    LineBatch b = f.pending;
    boolean taken;
    try {
      taken = sink.offer(b);
    } catch (RuntimeException e) {
      errors++;
      log.error("{}: sink failed on {}; will offer it again", label, b, e);
      taken = false;
    }
    if (!taken) {
      sinkRefusals++;
      if (!f.holdsGate) {
        gate.hold();
        f.holdsGate = true;
      }
      return false;
    }
    f.pending = null;
    if (f.holdsGate) {
      gate.release();
      f.holdsGate = false;
    }
    registry.advanceRead(f.id, b.endPosition());
    linesRead += b.size();
    return true;
  }

  long linesRead() {
    return linesRead;
  }

  long bytesRead() {
    return bytesRead;
  }

  long sinkRefusals() {
    return sinkRefusals;
  }

  long piecesCut() {
    return piecesCut;
  }

  long partialsFlushed() {
    return partialsFlushed;
  }

  long errors() {
    return errors;
  }
}
