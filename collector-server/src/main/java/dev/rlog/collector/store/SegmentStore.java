package dev.rlog.collector.store;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.config.AtomicFiles;
import dev.rlog.common.time.Clock;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded store: one directory of size-rotated JSON Lines segment files, written by one
 * thread, with a commit point and the committed positions (per agent and file instance, the
 * highest line offset stored) that let the gRPC path skip lines it already stored. The positions
 * live in a {@link PositionTable}, bounded by {@link StoreOptions#dedupRetention()} and
 * {@link StoreOptions#dedupMaxInstances()}, which the gRPC duplicate filter shares.
 *
 * <pre>
 * &lt;dir&gt;/segment-00000000000000000000.jsonl   rotated: never written again
 * &lt;dir&gt;/segment-00000000000000000001.jsonl   active: appended to, whole records only
 * &lt;dir&gt;/positions.json                       checkpoint, see {@link Checkpoint}
 * </pre>
 *
 * Segment names carry a 20-digit zero-padded sequence, so lexical order is write order.
 *
 * <p><b>Commit.</b> {@link #append} writes all given chunks through one reusable direct buffer
 * ({@value #DEFAULT_WRITE_BUFFER_BYTES} bytes by default: one {@code write} syscall per full
 * buffer or per call, no allocation per record), rotating between chunks as
 * {@link RotationPolicy} says (a chunk is never split), and then commits: with
 * {@link FsyncPolicy#ALWAYS} after {@code force(false)}, with {@link FsyncPolicy#NEVER} as soon
 * as {@code write} returned. Only then are the chunks' positions raised, so the positions never
 * run ahead of the store. A rotated segment is always forced before the next one is created,
 * and the checkpoint forces the active segment before naming its commit point, so even with
 * {@code NEVER} the checkpoint never claims bytes that power loss could take. A
 * {@link SegmentFlusher} forces the active segment every few MiB from a second thread meanwhile,
 * so those forces find little left to write (the writer no longer stops for a whole segment's
 * write-back at each rotation) and a write-back error it meets fails the next of them.
 *
 * <p><b>Failure.</b> An {@link IOException} from {@link #append} (disk full, I/O error) leaves
 * the store <em>failed</em>: it cuts the active segment back to its commit point where it can,
 * and refuses every later append until {@link #tryRecover()} confirms the cut (then the owner
 * appends the uncommitted chunks again) or reopening (restart) recovers. Chunks committed into an earlier
 * segment during the failed call stay stored, with their positions raised, so a re-sent line is
 * still recognised.
 *
 * <p><b>Recovery ({@link #open}).</b> The active (last) segment may end in a torn record (killed
 * mid-write, or power loss): it is cut after its last newline, counted in
 * {@link #tornBytesDropped()}. Earlier segments are complete by construction. The positions are
 * loaded from the checkpoint (with their last-advance times) and raised by re-scanning every
 * record after its commit point, each taken as advanced at its {@code recv} time; with no usable
 * checkpoint every segment is scanned. Retention and the instance cap apply while loading, so a
 * long history never holds more than the bound. A checkpoint whose segment no longer exists
 * (removed by retention) still counts: the directory entry was made durable before any
 * checkpoint could name it. A checkpoint that names more bytes than its segment holds is
 * distrusted and everything is scanned. After a restart appends continue in the same last
 * segment (after the cut), and rotation applies as usual.
 *
 * <p><b>Threading.</b> Not thread-safe: one owner thread (the {@link StoreWriter}) calls
 * {@link #append}, {@link #checkpoint} and {@link #close}. {@link #committedOffset},
 * {@link #committedPositions} and the counters may be read from any thread; they only ever show
 * committed data. <b>Bounds:</b> memory is the write buffer plus the position table, at most
 * {@link StoreOptions#dedupMaxInstances()} entries, each forgotten
 * {@link StoreOptions#dedupRetention()} after it last advanced.
 */
public final class SegmentStore implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(SegmentStore.class);

  /** Name of the positions checkpoint inside the store directory. */
  public static final String CHECKPOINT_FILE = Checkpoint.FILE_NAME;
  /** Size of the reusable direct write buffer. */
  public static final int DEFAULT_WRITE_BUFFER_BYTES = 2 * 1024 * 1024;

  private static final Pattern SEGMENT_NAME = Pattern.compile("segment-(\\d{20})\\.jsonl");
  private static final int TAIL_READ_BYTES = 64 * 1024;

  /** How segment files are opened; a seam so tests can inject failing channels. */
  @FunctionalInterface
  interface ChannelOpener {
    FileChannel open(Path path, OpenOption... options) throws IOException;
  }

  private final Path dir;
  private final StoreOptions options;
  private final RotationPolicy rotation;
  private final ChannelOpener opener;
  private final ByteBuffer buffer;
  private final SegmentFlusher flusher;
  private final PositionTable positions;
  private final long tornBytesDropped;
  private final long unreadableRecords;

  private FileChannel channel;
  private Path activePath;
  /** Bytes in the active segment's file (what was written to the channel). */
  private long channelEnd;
  private long segmentSeq;
  private volatile String segmentName;
  /** Bytes of the active segment at the commit point. */
  private volatile long committedSize;
  /** Bytes of the active segment written or buffered; beyond the commit point during append. */
  private long writtenSize;
  /** Whether the commit point or the positions moved since the last checkpoint. */
  private boolean dirty = true;
  private volatile Throwable failure;
  private int lastAppendCommitted;
  private boolean closed;

  // Written by the owner thread only, read by metrics: volatile is enough for one writer.
  private volatile long bytesWritten;
  private volatile long recordsWritten;
  private volatile long rotations;
  private volatile long checkpointFailures;

  private SegmentStore(
      Path dir, StoreOptions options, ChannelOpener opener, int writeBufferBytes,
      long flushStepBytes, PositionTable positions,
      long tornBytesDropped, long unreadableRecords, long seq, FileChannel channel, long size) {
    this.dir = dir;
    this.options = options;
    this.rotation = new RotationPolicy(options.maxSegmentBytes());
    this.opener = opener;
    this.buffer = ByteBuffer.allocateDirect(writeBufferBytes);
    this.flusher = new SegmentFlusher(flushStepBytes,
        options.dropPageCache() ? PageCache.system() : PageCache.NONE,
        SegmentFlusher.DEFAULT_KEEP_CACHED_BYTES);
    this.positions = positions;
    this.tornBytesDropped = tornBytesDropped;
    this.unreadableRecords = unreadableRecords;
    this.segmentSeq = seq;
    this.segmentName = nameOf(seq);
    this.channel = channel;
    this.activePath = dir.resolve(segmentName);
    this.channelEnd = size;
    this.committedSize = size;
    this.writtenSize = size;
  }

  /**
   * Opens (creating it if missing) and recovers the store in {@code dir}: cuts a torn last
   * record and rebuilds the committed positions. See the class comment.
   */
  public static SegmentStore open(Path dir, StoreOptions options, Clock clock)
      throws IOException {
    return open(dir, options, clock, FileChannel::open, DEFAULT_WRITE_BUFFER_BYTES);
  }

  /** With the system clock (tests that do not look at expiry). */
  public static SegmentStore open(Path dir, StoreOptions options) throws IOException {
    return open(dir, options, Clock.system());
  }

  static SegmentStore open(
      Path dir, StoreOptions options, ChannelOpener opener, int writeBufferBytes)
      throws IOException {
    return open(dir, options, Clock.system(), opener, writeBufferBytes);
  }

  static SegmentStore open(
      Path dir, StoreOptions options, Clock clock, ChannelOpener opener, int writeBufferBytes)
      throws IOException {
    return open(dir, options, clock, opener, writeBufferBytes, SegmentFlusher.DEFAULT_STEP_BYTES);
  }

  /** With the background force every {@code flushStepBytes} (tests: small, to exercise it). */
  static SegmentStore open(
      Path dir, StoreOptions options, Clock clock, ChannelOpener opener, int writeBufferBytes,
      long flushStepBytes) throws IOException {
    if (writeBufferBytes <= 0) {
      throw new IllegalArgumentException("writeBufferBytes must be > 0, got " + writeBufferBytes);
    }
    Files.createDirectories(dir);
    List<Long> seqs = listSegments(dir);
    Checkpoint checkpoint = loadCheckpoint(dir);
    long checkpointSeq = checkpoint == null ? -1 : sequenceOf(checkpoint.segment());

    FileChannel channel = null;
    long activeSeq;
    long activeSize = 0;
    long torn = 0;
    try {
      if (!seqs.isEmpty()) {
        long lastSeq = seqs.get(seqs.size() - 1);
        channel = opener.open(
            dir.resolve(nameOf(lastSeq)), StandardOpenOption.READ, StandardOpenOption.WRITE);
        long fileSize = channel.size();
        activeSize = endOfLastRecord(channel, fileSize);
        if (activeSize < fileSize) {
          torn = fileSize - activeSize;
          channel.truncate(activeSize);
          channel.force(false);
          log.warn("store {}: dropped {} bytes of a torn last record in {}",
              dir, torn, nameOf(lastSeq));
        }
        channel.position(activeSize);
      }
      if (seqs.isEmpty() || checkpointSeq > seqs.get(seqs.size() - 1)) {
        // Empty store, or newer segments were removed: start a fresh segment whose name still
        // sorts after everything this store ever wrote.
        if (channel != null) {
          channel.close();
        }
        long lastSeq = seqs.isEmpty() ? -1 : seqs.get(seqs.size() - 1);
        activeSeq = Math.max(lastSeq, checkpointSeq) + 1;
        channel = createSegment(dir, opener, activeSeq);
        activeSize = 0;
        seqs.add(activeSeq);
      } else {
        activeSeq = seqs.get(seqs.size() - 1);
      }

      PositionTable positions =
          new PositionTable(clock, options.dedupRetention(), options.dedupMaxInstances());
      long startSeq = seqs.get(0);
      long startOffset = 0;
      if (checkpoint != null) {
        int idx = Collections.binarySearch(seqs, checkpointSeq);
        long cpSegmentSize = idx < 0 ? -1
            : checkpointSeq == activeSeq ? activeSize
            : Files.size(dir.resolve(checkpoint.segment()));
        if (idx >= 0 && checkpoint.offset() > cpSegmentSize) {
          log.warn("store {}: checkpoint names {} bytes of {} but it holds {}; scanning all",
              dir, checkpoint.offset(), checkpoint.segment(), cpSegmentSize);
        } else {
          for (PositionTable.Committed c : checkpoint.positions()) {
            positions.restore(c.agent(), c.fileInstance(), c.offset(), c.advancedAtMillis());
          }
          if (idx >= 0) {
            startSeq = checkpointSeq;
            startOffset = checkpoint.offset();
          } else {
            log.info("store {}: checkpoint segment {} was removed; scanning the later ones",
                dir, checkpoint.segment());
            startSeq = checkpointSeq + 1;
          }
        }
      }

      PositionScanner scanner = new PositionScanner(positions::restore);
      for (long seq : seqs) {
        if (seq < startSeq) {
          continue;
        }
        Path path = dir.resolve(nameOf(seq));
        long from = seq == startSeq ? startOffset : 0;
        long to = seq == activeSeq ? activeSize : Files.size(path);
        long trailing = scanner.scan(path, from, to);
        if (trailing > 0) {
          // Cannot happen by construction (rotated segments are forced whole); never rewrite
          // a rotated segment, just say so.
          log.warn("store {}: {} ends in {} bytes without newline; left as is", dir, path, trailing);
        }
      }
      if (scanner.unreadableLines() > 0) {
        log.warn("store {}: {} unreadable records skipped while recovering positions",
            dir, scanner.unreadableLines());
      }
      log.info("opened store {}: {} segments, active {} at {} bytes, scanned {} bytes "
              + "({} records) from {}:{}, positions of {} file instances ({} expired, {} over "
              + "the cap of {})",
          dir, seqs.size(), nameOf(activeSeq), activeSize, scanner.bytes(), scanner.lines(),
          nameOf(startSeq), startOffset, positions.size(), positions.expired(),
          positions.evictedForCapacity(), positions.maxInstances());
      return new SegmentStore(dir, options, opener, writeBufferBytes, flushStepBytes, positions,
          torn, scanner.unreadableLines(), activeSeq, channel, activeSize);
    } catch (IOException | RuntimeException e) {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
  }

  /**
   * Writes the chunks, in order, and commits them (see the class comment). On return every
   * chunk is at or behind the commit point and its positions are raised.
   *
   * @throws IOException the store is now failed; nothing of this call past the last commit
   *     point counts as stored
   * @throws IllegalStateException after {@link #close}
   */
  public void append(List<Chunk> chunks) throws IOException {
    checkWritable();
    lastAppendCommitted = 0;
    int uncommitted = 0; // first chunk not yet behind the commit point
    try {
      int n = chunks.size();
      for (int i = 0; i < n; i++) {
        Chunk chunk = chunks.get(i);
        int length = chunk.length();
        // A chunk without bytes cannot overflow a segment: never rotate for it.
        if (length > 0 && rotation.shouldRotate(writtenSize, length)) {
          flushBuffer();
          commit(chunks, uncommitted, i, true); // a rotated segment is final: always forced
          uncommitted = i;
          rotate();
        }
        copy(chunk.bytes(), length);
      }
      flushBuffer();
      commit(chunks, uncommitted, n, options.fsync() == FsyncPolicy.ALWAYS);
    } catch (IOException | RuntimeException e) {
      markFailed(e);
      throw e;
    }
  }

  private void copy(byte[] src, int length) throws IOException {
    int off = 0;
    while (off < length) {
      int n = Math.min(length - off, buffer.remaining());
      buffer.put(src, off, n);
      off += n;
      if (!buffer.hasRemaining()) {
        flushBuffer();
      }
    }
    writtenSize += length;
  }

  private void flushBuffer() throws IOException {
    buffer.flip();
    int n = buffer.remaining();
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
    buffer.clear();
    if (n > 0) {
      channelEnd += n;
      flusher.written(channel, activePath, channelEnd);
    }
  }

  /** Advances the commit point over {@code chunks[from, to)}, which are all written. */
  private void commit(List<Chunk> chunks, int from, int to, boolean force) throws IOException {
    if (force) {
      flusher.force(channel);
    }
    long bytes = 0;
    long records = 0;
    for (int i = from; i < to; i++) {
      Chunk chunk = chunks.get(i);
      bytes += chunk.length();
      records += chunk.records();
      positions.commit(chunk.positions());
    }
    committedSize = writtenSize;
    lastAppendCommitted = to;
    if (to > from) {
      bytesWritten += bytes;
      recordsWritten += records;
      dirty = true;
    }
  }

  private void rotate() throws IOException {
    String finished = segmentName;
    channel.close();
    long seq = segmentSeq + 1;
    channel = createSegment(dir, opener, seq);
    segmentSeq = seq;
    segmentName = nameOf(seq);
    activePath = dir.resolve(segmentName);
    channelEnd = 0;
    committedSize = 0;
    writtenSize = 0;
    rotations++;
    dirty = true;
    log.info("store {}: rotated {} -> {}", dir, finished, segmentName);
    try {
      checkpoint();
    } catch (IOException e) {
      // Not fatal: the segments are the truth, recovery then scans from an older checkpoint.
      log.warn("store {}: checkpoint after rotation failed", dir, e);
    }
  }

  private void markFailed(Throwable e) {
    failure = e;
    buffer.clear();
    if (writtenSize > committedSize && channel.isOpen()) {
      // Leave no uncommitted (never acknowledged) bytes behind if we can; recovery would cut a
      // torn tail anyway, and count whole records it finds.
      try {
        channel.truncate(committedSize);
        channel.position(committedSize);
        channelEnd = committedSize;
      } catch (IOException | RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
    }
    writtenSize = committedSize;
  }

  /**
   * How many chunks, from the start of the list, the last {@link #append} committed: all of them
   * on success; after a failure, those that were committed into a segment rotated during the
   * call. The rest are not stored and must be appended again.
   */
  public int lastAppendCommitted() {
    return lastAppendCommitted;
  }

  /**
   * After a failed append: if the active segment is back at its commit point (the uncommitted
   * tail was cut), clears the failure so the owner can append the rest again once the cause (a
   * full disk) is gone. Returns false when the store cannot go on in this process (the segment
   * could not be cut, or a rotation failed half-way); then only a restart recovers it.
   */
  public boolean tryRecover() {
    if (failure == null) {
      return true;
    }
    try {
      if (closed || !channel.isOpen() || channel.size() != committedSize
          || channel.position() != committedSize) {
        return false;
      }
    } catch (IOException | RuntimeException e) {
      return false;
    }
    failure = null;
    buffer.clear();
    writtenSize = committedSize;
    return true;
  }

  private void checkWritable() throws IOException {
    if (closed) {
      throw new IllegalStateException("segment store " + dir + " is closed");
    }
    Throwable f = failure;
    if (f != null) {
      throw new IOException("segment store " + dir + " failed earlier; reopen to recover", f);
    }
  }

  /**
   * Writes {@code positions.json} for the current commit point, after forcing the active
   * segment up to it. Does nothing when nothing was committed since the last checkpoint. Owner
   * thread only; allowed after a failure (it then records the last good commit point).
   *
   * @throws IOException counted in {@link #checkpointFailures()}; the store stays usable
   */
  public void checkpoint() throws IOException {
    if (!dirty) {
      return;
    }
    try {
      if (channel.isOpen()) {
        flusher.force(channel);
      }
      new Checkpoint(segmentName, committedSize, positions.committedSnapshot())
          .write(dir.resolve(CHECKPOINT_FILE));
      dirty = false;
    } catch (IOException e) {
      checkpointFailures++;
      throw e;
    }
  }

  /** Checkpoints and closes the active segment. Idempotent. Owner thread only. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    IOException error = null;
    try {
      checkpoint();
    } catch (IOException e) {
      error = e;
    }
    flusher.close();
    try {
      channel.close();
    } catch (IOException e) {
      if (error == null) {
        error = e;
      } else {
        error.addSuppressed(e);
      }
    }
    if (error != null) {
      throw error;
    }
  }

  /**
   * The highest committed offset of a file instance of an agent, or -1 when none is known.
   * Any thread; lock-free.
   */
  public long committedOffset(String agent, String fileInstance) {
    return positions.committed(agent, fileInstance);
  }

  /**
   * An immutable copy of the committed positions: agent, then file instance, then the highest
   * committed offset, live entries only. Any thread; taken concurrently with an append it may
   * miss part of that append, but never shows anything uncommitted.
   */
  public Map<String, Map<String, Long>> committedPositions() {
    return positions.committedPositions();
  }

  /**
   * The position table: the committed positions, shared with the gRPC duplicate filter, which
   * adds accepted (enqueued, not yet committed) offsets to it. Any thread.
   */
  public PositionTable positions() {
    return positions;
  }

  public Path directory() {
    return dir;
  }

  public StoreOptions options() {
    return options;
  }

  /** File name of the active segment. */
  public String currentSegment() {
    return segmentName;
  }

  /** Committed bytes in the active segment. */
  public long currentSegmentBytes() {
    return committedSize;
  }

  /** Bytes committed since this store was opened. */
  public long bytesWritten() {
    return bytesWritten;
  }

  /** Records committed since this store was opened. */
  public long recordsWritten() {
    return recordsWritten;
  }

  /** Rotations since this store was opened. */
  public long rotations() {
    return rotations;
  }

  /** Bytes of a torn last record cut off when this store was opened. */
  public long tornBytesDropped() {
    return tornBytesDropped;
  }

  /** Records that could not be parsed while recovering positions at open. */
  public long unreadableRecords() {
    return unreadableRecords;
  }

  /** Checkpoints that failed since this store was opened. */
  public long checkpointFailures() {
    return checkpointFailures;
  }

  /** Whether an append failed; the store then refuses appends until reopened. */
  public boolean isFailed() {
    return failure != null;
  }

  /** {@code segment-<20-digit sequence>.jsonl}. */
  static String nameOf(long seq) {
    return String.format("segment-%020d.jsonl", seq);
  }

  /** The sequence of a segment file name, or -1 if it is not one. */
  static long sequenceOf(String name) {
    Matcher m = SEGMENT_NAME.matcher(name);
    if (!m.matches()) {
      return -1;
    }
    try {
      return Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static List<Long> listSegments(Path dir) throws IOException {
    List<Long> seqs = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path file : files) {
        long seq = sequenceOf(file.getFileName().toString());
        if (seq >= 0 && Files.isRegularFile(file)) {
          seqs.add(seq);
        }
      }
    }
    Collections.sort(seqs);
    return seqs;
  }

  private static Checkpoint loadCheckpoint(Path dir) throws IOException {
    try {
      return Checkpoint.read(dir.resolve(CHECKPOINT_FILE));
    } catch (Checkpoint.InvalidCheckpointException e) {
      log.warn("store {}: ignoring unusable checkpoint, scanning all segments", dir, e);
      return null;
    }
  }

  private static FileChannel createSegment(Path dir, ChannelOpener opener, long seq)
      throws IOException {
    FileChannel ch = opener.open(dir.resolve(nameOf(seq)),
        StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      // Whatever the fsync policy: a checkpoint may name this segment only once it exists
      // durably, so that a missing segment at recovery means "removed", not "lost".
      AtomicFiles.fsyncDirectory(dir);
    } catch (IOException | RuntimeException e) {
      try {
        ch.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    return ch;
  }

  /** Length of the file up to and including its last newline (0 if it has none). */
  static long endOfLastRecord(FileChannel ch, long size) throws IOException {
    ByteBuffer block = ByteBuffer.allocate((int) Math.min(TAIL_READ_BYTES, Math.max(size, 1)));
    long end = size;
    while (end > 0) {
      int n = (int) Math.min(block.capacity(), end);
      long at = end - n;
      block.clear().limit(n);
      while (block.hasRemaining()) {
        if (ch.read(block, at + block.position()) < 0) {
          throw new EOFException("segment shrank while recovering at " + at);
        }
      }
      for (int i = n - 1; i >= 0; i--) {
        if (block.get(i) == '\n') {
          return at + i + 1;
        }
      }
      end = at;
    }
    return 0;
  }
}
