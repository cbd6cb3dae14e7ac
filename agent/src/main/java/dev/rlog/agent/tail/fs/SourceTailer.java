package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.FileIdentity;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSink;
import dev.rlog.agent.tail.LineSplitter;
import dev.rlog.agent.tail.OffsetRegistry;
import dev.rlog.agent.tail.RotationDetector;
import dev.rlog.agent.tail.RotationDetector.Decision;
import dev.rlog.agent.tail.RotationDetector.Observed;
import dev.rlog.agent.tail.RotationDetector.Tracked;
import dev.rlog.agent.tail.TailConfig;
import dev.rlog.agent.tail.TailSource;
import dev.rlog.common.time.Clock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tails the files of one {@link TailSource} and hands their lines to a {@link LineSink}.
 *
 * <p>Driven by {@link #poll()}: a rescan when requested (watch events) or due (interval), then a
 * read of every open file from its position, in blocks of {@code blockBytes} into the shared
 * read buffer, split by a {@link LineSplitter} per file. Rescans classify each file with {@link
 * RotationDetector}: renamed files are read to their end through the channel kept open (until
 * idle for {@code drainIdle}) before the file now at the path is started from 0; truncated files
 * restart at 0 as a new instance; a matched copy of a truncated file (copytruncate) continues the
 * old instance from its position, under its id, instead of being read again; a new file that
 * starts like a file still being read waits up to {@code copyGrace} in case it is such a copy.
 *
 * <p>Exactly once needs two more rules, both here: a new instance gets a fresh id (see {@link
 * FileIdentity#instanceId}) that is written to the positions file before its first line is
 * offered, and restarts resume from committed positions (instance found again by inode and
 * fingerprint; an inode holding another first line is a new file read from 0).
 *
 * <p>Threading: not thread-safe; one owner thread calls everything except {@link #stats()} and
 * {@link #openFileNames()}, which any thread may read. Bounds and full sink: at most one refused
 * batch is held per file; while it is, nothing more is read from that file (the file is the
 * buffer). Memory per file: the splitter's partial line (at most {@code maxLineBytes + 2}) and
 * that batch; the read buffer is shared.
 */
public final class SourceTailer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SourceTailer.class);
  /** How much of a possible copy is compared with the file it seems to copy. */
  private static final int COPY_COMPARE_BYTES = 4096;

  /** Counters; a snapshot, any thread. */
  public record Stats(String label, int trackedFiles, int openFiles, long linesRead,
      long bytesRead, long sinkRefusals, long piecesCut, long partialsFlushed, long truncations,
      long rotations, long copiesContinued, long errors) {}

  private final String label;
  private final Path dir;
  private final PathMatcher matcher;
  private final TailConfig config;
  private final Clock clock;
  private final OffsetRegistry registry;
  private final Checkpointer checkpointer;
  private final LineSink sink;
  private final RandomGenerator random;
  private final ByteBuffer readBuffer;
  /** The first bytes of a file, re-read after each block to see that it is still the same file. */
  private final ByteBuffer headBuffer;
  private final FileProbe probe;
  private final Map<String, TrackedFile> files = new LinkedHashMap<>();
  private final Map<String, Long> heldCopies = new HashMap<>();
  /** Size of each held possible copy at the last scan: a copy still growing is being written. */
  private final Map<String, Long> heldCopySizes = new HashMap<>();
  private final Set<String> warnedPaths = new HashSet<>();
  private volatile Set<String> openFileNames = Set.of();
  private boolean firstScanDone;
  /** END applies only to a source's first start: files that appear later, even while the agent
   *  was down, start at 0 so nothing written to them is missed. */
  private final boolean startAtEndOnFirstScan;
  private boolean rescanRequested = true;
  private boolean undurable;
  private boolean dirMissingLogged;
  private long lastRescanNanos;

  private volatile long linesRead;
  private volatile long bytesRead;
  private volatile long sinkRefusals;
  private volatile long piecesCut;
  private volatile long partialsFlushed;
  private volatile long truncations;
  private volatile long rotations;
  private volatile long copiesContinued;
  private volatile long errors;

  /**
   * @param readBuffer a heap buffer of {@code config.blockBytes()}, shared by all tailers of the
   *     owner thread
   */
  public SourceTailer(TailSource source, TailConfig config, Clock clock, OffsetRegistry registry,
      Checkpointer checkpointer, LineSink sink, RandomGenerator random, ByteBuffer readBuffer) {
    if (!readBuffer.hasArray() || readBuffer.capacity() < config.blockBytes()) {
      throw new IllegalArgumentException("readBuffer must be a heap buffer of blockBytes");
    }
    this.label = source.label();
    this.dir = source.directory();
    this.matcher = source.fileNameMatcher();
    this.config = config;
    this.clock = clock;
    this.registry = registry;
    this.checkpointer = checkpointer;
    this.sink = sink;
    this.random = random;
    this.readBuffer = readBuffer;
    this.headBuffer = ByteBuffer.allocate(config.fingerprintBytes());
    this.probe = new FileProbe(config.fingerprintBytes());
    long now = clock.nanoTime();
    this.lastRescanNanos = now;
    List<String> known = registry.idsOf(label);
    this.startAtEndOnFirstScan =
        config.startPosition() == TailConfig.StartPosition.END && known.isEmpty();
    // Instances from the positions file start closed; the first rescan finds their files again.
    for (String id : known) {
      TrackedFile f = new TrackedFile(id, label, registry.identity(id), Path.of(registry.path(id)),
          registry.readPosition(id), config.maxLineBytes(), now);
      files.put(id, f);
    }
  }

  public String label() {
    return label;
  }

  public Path directory() {
    return dir;
  }

  /** True if {@code fileName} matches this source's glob. */
  public boolean matches(Path fileName) {
    return matcher.matches(fileName);
  }

  /** Names of the files read right now; for the watcher to tell growth from new files. */
  public Set<String> openFileNames() {
    return openFileNames;
  }

  /** The next {@link #poll()} rescans the directory. */
  public void requestRescan() {
    rescanRequested = true;
  }

  /**
   * One cycle: rescan if requested or due, read what is there, flush partial lines that waited
   * long enough, close drained files, forget old ones.
   *
   * @return the {@link Clock#nanoTime()} by which this tailer wants to be polled again (now when
   *     there is more to read)
   */
  public long poll() {
    long now = clock.nanoTime();
    if (rescanRequested || now - lastRescanNanos >= config.rescanInterval().toNanos()) {
      rescan(now);
    }
    if (undurable) {
      tryCheckpoint();
    }
    boolean more = false;
    // Files no longer at their path first: the old file is read to its end before the new one.
    List<TrackedFile> order = new ArrayList<>(files.values());
    order.sort(Comparator.comparing((TrackedFile f) -> f.atPath));
    for (TrackedFile f : order) {
      more |= service(f, now);
    }
    expire(now);
    return nextDeadline(now, more);
  }

  public Stats stats() {
    int open = 0;
    for (TrackedFile f : files.values()) {
      open += f.isOpen() ? 1 : 0;
    }
    return new Stats(label, files.size(), open, linesRead, bytesRead, sinkRefusals, piecesCut,
        partialsFlushed, truncations, rotations, copiesContinued, errors);
  }

  @Override
  public void close() {
    for (TrackedFile f : files.values()) {
      f.closeChannel();
    }
    openFileNames = Set.of();
  }

  // ---------------------------------------------------------------- reading

  /** Returns true if the file may have more to read right away. */
  private boolean service(TrackedFile f, long now) {
    try {
      if (f.pending != null && !offerPending(f)) {
        return false;
      }
      boolean more = false;
      if (f.isOpen() && !f.ending && registry.isDurable(f.id)) {
        more = read(f, now);
        if (f.pending == null) {
          maybeFlushPartial(f, now);
        }
        if (!f.atPath && f.pending == null && !more
            && now - f.lastGrowthNanos >= config.drainIdle().toNanos()) {
          log.info("{}: {} is no longer at a watched path and idle for {}; closing it",
              label, f.path, config.drainIdle());
          f.ending = true;
        }
      }
      if (f.ending) {
        finish(f);
      }
      return more;
    } catch (IOException e) {
      errors++;
      log.warn("{}: reading {} failed; rescanning", label, f.path, e);
      rescanRequested = true;
      return false;
    }
  }

  private boolean read(TrackedFile f, long now) throws IOException {
    for (int blocks = 0; blocks < config.maxBlocksPerPoll(); blocks++) {
      long size = f.channel.size();
      if (size < f.sizeSeen) {
        if (!f.atPath) {
          markContentGone(f, now); // a file we only drain was truncated: nothing more to read
        } else {
          rescanRequested = true; // truncated, maybe rewritten: the rescan decides
        }
        return false;
      }
      f.sizeSeen = size;
      long pos = f.consumedPosition();
      if (size <= pos) {
        return false;
      }
      readBuffer.clear();
      if (size - pos < readBuffer.capacity()) {
        readBuffer.limit((int) (size - pos));
      }
      int n = f.channel.read(readBuffer, pos);
      if (n <= 0) {
        return false;
      }
      if (!sameHead(f)) {
        // Truncated and written again past our position since we last looked (copytruncate
        // under a fast writer): what was just read is the new content, at offsets that belong
        // to a new instance. Drop it; the rescan sees the new first line and sorts it out (the
        // old instance may go on in its copy, the file starts over from 0).
        if (!f.atPath) {
          markContentGone(f, now);
        } else {
          rescanRequested = true;
        }
        return false;
      }
      f.lastGrowthNanos = now;
      bytesRead += n;
      long cutBefore = f.splitter.piecesCut();
      f.splitter.feed(readBuffer.array(), 0, n, f.builder.readAtMillis(clock.currentTimeMillis()));
      piecesCut += f.splitter.piecesCut() - cutBefore;
      long po = f.splitter.partialOffset();
      if (po != f.partialOffset) {
        f.partialOffset = po;
        f.partialSinceNanos = now;
      }
      if (!f.builder.isEmpty() && !offer(f, f.builder.build())) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether the file still starts with the first line its identity was taken from. Checked after
   * each block read, so a block is only used if the file was still the same file when it was
   * read (a new first line identical to the old one is the one case this cannot see).
   */
  private boolean sameHead(TrackedFile f) throws IOException {
    if (!f.identity.hasFingerprint()) {
      return true;
    }
    headBuffer.clear();
    int len = FileProbe.readFully(f.channel, 0, headBuffer);
    String now = FileIdentity.fingerprint(headBuffer.array(), len, config.fingerprintBytes());
    return f.identity.fingerprint().equals(now);
  }

  private void maybeFlushPartial(TrackedFile f, long now) {
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

  private boolean offer(TrackedFile f, LineBatch batch) {
    // Held before the sink sees it, so a throwing sink loses nothing either.
    f.pending = batch;
    return offerPending(f);
  }

  private boolean offerPending(TrackedFile f) {
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
      return false;
    }
    f.pending = null;
    registry.advanceRead(f.id, b.endPosition());
    linesRead += b.size();
    return true;
  }

  /** Deliver what is held, ship the partial line as it is, close. Retried until it completes. */
  private void finish(TrackedFile f) {
    if (f.pending != null) {
      return;
    }
    if (f.splitter.hasPartial() && registry.isDurable(f.id)) {
      flushPartial(f);
      if (f.pending != null) {
        return;
      }
    }
    f.closeChannel();
    f.ending = false;
    publishOpenNames();
  }

  private void expire(long now) {
    long retention = config.retention().toNanos();
    files.values().removeIf(f -> {
      if (f.isOpen() || f.pending != null || f.atPath || now - f.lastSeenNanos < retention) {
        return false;
      }
      if (!registry.forgetIfCommitted(f.id)) {
        return false;
      }
      log.debug("{}: forgot {} (gone for {}, fully acknowledged)", label, f, config.retention());
      return true;
    });
  }

  private long nextDeadline(long now, boolean more) {
    if (more || rescanRequested) {
      return now;
    }
    long retry = now + config.sinkRetry().toNanos();
    long next = lastRescanNanos + config.rescanInterval().toNanos();
    if (undurable) {
      next = Math.min(next, retry);
    }
    for (TrackedFile f : files.values()) {
      if (f.pending != null || f.ending) {
        next = Math.min(next, retry);
      }
      if (f.isOpen() && f.partialOffset >= 0) {
        next = Math.min(next, f.partialSinceNanos + config.partialLineWait().toNanos());
      }
      if (f.isOpen() && !f.atPath) {
        next = Math.min(next, f.lastGrowthNanos + config.drainIdle().toNanos());
      }
      if (!f.isOpen() && !f.atPath && now - f.lastSeenNanos < config.retention().toNanos()) {
        next = Math.min(next, f.lastSeenNanos + config.retention().toNanos());
      }
    }
    for (long since : heldCopies.values()) {
      next = Math.min(next, since + config.copyGrace().toNanos());
    }
    // Something due that could not complete (sink full, not yet acknowledged): do not spin.
    return next <= now ? retry : next;
  }

  // ---------------------------------------------------------------- rescanning

  private void rescan(long now) {
    rescanRequested = false;
    lastRescanNanos = now;
    List<Observed> seen = list();
    if (seen == null) {
      return;
    }
    Map<String, Observed> unclaimed = new LinkedHashMap<>();
    for (Observed o : seen) {
      unclaimed.put(o.path(), o);
    }
    List<TrackedFile> snapshot = new ArrayList<>(files.values());
    for (TrackedFile f : snapshot) {
      if (f.isOpen() && !f.contentGone) {
        followOpen(f, unclaimed, now);
      }
    }
    for (TrackedFile f : snapshot) {
      if (!f.isOpen() && !f.contentGone) {
        findClosed(f, unclaimed, now);
      }
    }
    List<TrackedFile> gone = new ArrayList<>();
    for (TrackedFile f : snapshot) {
      if (f.contentGone) {
        gone.add(f);
      }
    }
    gone.sort(Comparator.comparingLong((TrackedFile f) -> f.lastSeenNanos).reversed());
    for (TrackedFile f : gone) {
      Observed copy = RotationDetector.findCopy(tracked(f, f.emittedPosition()),
          unowned(unclaimed.values(), null));
      if (copy != null) {
        continueOn(f, copy, unclaimed, now);
      }
    }
    Set<String> held = new HashSet<>();
    for (Observed o : new ArrayList<>(unclaimed.values())) {
      considerNew(o, unclaimed, held, now);
    }
    heldCopies.keySet().retainAll(held);
    heldCopySizes.keySet().retainAll(held);
    firstScanDone = true;
    publishOpenNames();
  }

  private void followOpen(TrackedFile f, Map<String, Observed> unclaimed, long now) {
    Observed at = unclaimed.get(f.path.toString());
    Tracked t = tracked(f, f.consumedPosition());
    Decision d = RotationDetector.decide(t, at, othersFor(f, at, unclaimed));
    switch (d.kind()) {
      case UNCHANGED, GREW -> seenAt(f, d.continueOn(), unclaimed, now);
      case MOVED -> {
        log.info("{}: {} moved to {}; following it", label, f.path, d.continueOn().path());
        rotations++;
        relocate(f, d.continueOn());
        seenAt(f, d.continueOn(), unclaimed, now);
      }
      case TRUNCATED -> markContentGone(f, now);
      case COPYTRUNCATED_COPY_SEEN -> continueOn(f, d.continueOn(), unclaimed, now);
      case RENAMED, GONE -> {
        if (f.atPath) {
          log.info("{}: {} {}; reading it to its end through the open file", label, f.path,
              d.kind() == RotationDetector.Kind.RENAMED ? "was replaced by another file" : "is gone");
          rotations++;
          // The writer may still be writing to the old file; give it drainIdle from now.
          f.lastGrowthNanos = now;
          f.atPath = false;
        }
      }
      default -> throw new IllegalStateException(d.kind().toString());
    }
  }

  private void findClosed(TrackedFile f, Map<String, Observed> unclaimed, long now) {
    Observed at = unclaimed.get(f.path.toString());
    Tracked t = tracked(f, f.emittedPosition());
    Decision d = RotationDetector.decide(t, at, othersFor(f, at, unclaimed));
    switch (d.kind()) {
      case UNCHANGED, GREW, MOVED -> {
        if (reopen(f, d.continueOn(), f.emittedPosition())) {
          log.info("{}: resuming {} at offset {}", label, f.path, f.emittedPosition());
          relocate(f, d.continueOn());
          seenAt(f, d.continueOn(), unclaimed, now);
        }
      }
      case TRUNCATED -> markContentGone(f, now);
      case COPYTRUNCATED_COPY_SEEN -> continueOn(f, d.continueOn(), unclaimed, now);
      case RENAMED, GONE -> {
        f.atPath = false;
        if (inodeReused(f, unclaimed)) {
          markContentGone(f, now);
        }
      }
      default -> throw new IllegalStateException(d.kind().toString());
    }
  }

  private void considerNew(Observed o, Map<String, Observed> unclaimed, Set<String> held,
      long now) {
    if (!o.identity().hasFingerprint()) {
      return; // no complete first line yet: nothing to ship, identity not decidable
    }
    if (ownerOfKey(o.identity().fileKey()) != null) {
      return; // another name (hard link) of a file already tracked
    }
    TrackedFile twin = liveTwin(o);
    if (twin != null) {
      long since = heldCopies.computeIfAbsent(o.path(), p -> now);
      Long sizeBefore = heldCopySizes.put(o.path(), o.size());
      // Judge a copy only once it has stopped growing: while cp writes it, or while the twin
      // is being truncated, a byte comparison can fail although it is the copy.
      boolean settling = sizeBefore == null || sizeBefore != o.size();
      if (now - since < config.copyGrace().toNanos() && (settling || looksLikeCopy(twin, o))) {
        held.add(o.path());
        return;
      }
      log.info("{}: {} starts like {} but is not its copytruncate copy; reading it from 0",
          label, o.path(), twin.path);
    }
    long start = !firstScanDone && startAtEndOnFirstScan ? o.size() : 0;
    FileChannel ch = openVerified(o);
    if (ch == null) {
      return;
    }
    String id = newId(o.identity());
    registry.register(id, label, o.identity(), o.path(), start);
    TrackedFile f = new TrackedFile(id, label, o.identity(), Path.of(o.path()), start,
        config.maxLineBytes(), now);
    f.channel = ch;
    files.put(id, f);
    undurable = true;
    seenAt(f, o, unclaimed, now);
    log.info("{}: new file {} as {} from offset {}", label, o.path(), id, start);
  }

  /** An open file still being read that starts the same but is another file. */
  private TrackedFile liveTwin(Observed o) {
    for (TrackedFile f : files.values()) {
      if (f.isOpen() && !f.contentGone
          && RotationDetector.isCopyCandidate(tracked(f, f.consumedPosition()), o)) {
        return f;
      }
    }
    return null;
  }

  private boolean looksLikeCopy(TrackedFile twin, Observed o) {
    int n = (int) Math.min(COPY_COMPARE_BYTES, Math.min(o.size(), twin.sizeSeen));
    try {
      if (twin.channel.size() < n) {
        // The twin shrank since this scan observed it: it is being truncated (copytruncate)
        // right now. Keep holding; the next scan sees the truncation and continues the twin's
        // instance in this copy instead of reading the copy again from 0.
        return true;
      }
      return FileProbe.samePrefix(twin.channel, Path.of(o.path()), n);
    } catch (IOException e) {
      return true; // cannot tell yet; keep waiting until copyGrace
    }
  }

  private void markContentGone(TrackedFile f, long now) {
    log.info("{}: {} was truncated or rewritten at offset {}; its file now starts over as a new "
        + "instance", label, f.path, f.consumedPosition());
    truncations++;
    f.contentGone = true;
    f.atPath = false;
    f.lastSeenNanos = now;
    f.ending = f.isOpen();
  }

  /** The instance goes on in another file (its copy) from where it was. */
  private void continueOn(TrackedFile f, Observed copy, Map<String, Observed> unclaimed,
      long now) {
    long resume = f.emittedPosition();
    if (!reopen(f, copy, resume)) {
      return;
    }
    copiesContinued++;
    log.info("{}: {} is the copy of {} (copytruncate); continuing {} at offset {}",
        label, copy.path(), f.path, f.id, resume);
    relocate(f, copy);
    seenAt(f, copy, unclaimed, now);
  }

  /** A closed instance's inode now holds a file with another first line. */
  private boolean inodeReused(TrackedFile f, Map<String, Observed> unclaimed) {
    for (Observed o : unclaimed.values()) {
      if (o.identity().sameKey(f.identity) && !o.identity().sameStart(f.identity)) {
        return true;
      }
    }
    return false;
  }

  /** Opens {@code o} for {@code f}, resuming at {@code position}; the held partial is reread. */
  private boolean reopen(TrackedFile f, Observed o, long position) {
    FileChannel ch = openVerified(o);
    if (ch == null) {
      return false;
    }
    f.closeChannel();
    f.channel = ch;
    f.splitter = new LineSplitter(position, config.maxLineBytes());
    f.partialOffset = -1;
    f.contentGone = false;
    f.ending = false;
    f.sizeSeen = o.size();
    f.lastGrowthNanos = clock.nanoTime();
    return true;
  }

  private void relocate(TrackedFile f, Observed o) {
    f.identity = o.identity();
    f.path = Path.of(o.path());
    f.builder.path(o.path());
    registry.relocate(f.id, f.identity, o.path());
  }

  private void seenAt(TrackedFile f, Observed o, Map<String, Observed> unclaimed, long now) {
    unclaimed.remove(o.path());
    f.atPath = true;
    f.lastSeenNanos = now;
    f.sizeSeen = Math.max(f.sizeSeen, o.size());
  }

  /** Opens the observed file and checks it is still the observed one (no swap since the scan). */
  private FileChannel openVerified(Observed o) {
    Path p = Path.of(o.path());
    FileChannel ch = null;
    try {
      ch = FileChannel.open(p, StandardOpenOption.READ);
      FileProbe.Stat s = FileProbe.stat(p);
      String key = o.identity().fileKey();
      boolean same = s != null && (key == null || key.equals(s.fileKey()))
          && o.identity().fingerprint().equals(probe.fingerprint(ch));
      if (same) {
        return ch;
      }
      rescanRequested = true;
    } catch (NoSuchFileException e) {
      rescanRequested = true;
    } catch (IOException e) {
      errors++;
      warnOnce(o.path(), "cannot open", e);
    }
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException ignored) {
        // read-only
      }
    }
    return null;
  }

  private List<Observed> list() {
    List<Observed> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      dirMissingLogged = false;
      for (Path p : ds) {
        if (!matcher.matches(p.getFileName())) {
          continue;
        }
        try {
          FileProbe.Stat s = FileProbe.stat(p);
          if (s == null) {
            continue;
          }
          String fp = s.size() == 0 ? null : fingerprint(p, s.fileKey());
          out.add(new Observed(p.toString(), new FileIdentity(s.fileKey(), fp), s.size()));
        } catch (IOException e) {
          errors++;
          warnOnce(p.toString(), "cannot inspect", e);
        }
      }
    } catch (NoSuchFileException | NotDirectoryException e) {
      if (!dirMissingLogged) {
        log.warn("{}: directory {} does not exist (yet); watching for it", label, dir);
        dirMissingLogged = true;
      }
    } catch (IOException e) {
      errors++;
      log.warn("{}: cannot list {}", label, dir, e);
      return null;
    }
    out.sort(Comparator.comparing(Observed::path));
    return out;
  }

  private String fingerprint(Path p, String fileKey) throws IOException {
    TrackedFile owner = ownerOfKey(fileKey);
    if (owner != null && owner.isOpen()) {
      return probe.fingerprint(owner.channel); // same inode; saves an open
    }
    return probe.fingerprint(p);
  }

  private TrackedFile ownerOfKey(String fileKey) {
    if (fileKey == null) {
      return null;
    }
    for (TrackedFile f : files.values()) {
      if (!f.contentGone && fileKey.equals(f.identity.fileKey())) {
        return f;
      }
    }
    return null;
  }

  /** Unclaimed files other than {@code at} that are not another tracked instance's file. */
  private List<Observed> othersFor(TrackedFile f, Observed at, Map<String, Observed> unclaimed) {
    List<Observed> out = new ArrayList<>();
    for (Observed o : unowned(unclaimed.values(), f)) {
      if (o != at) {
        out.add(o);
      }
    }
    return out;
  }

  private List<Observed> unowned(Iterable<Observed> obs, TrackedFile self) {
    List<Observed> out = new ArrayList<>();
    for (Observed o : obs) {
      TrackedFile owner = ownerOfKey(o.identity().fileKey());
      if (owner == null || owner == self) {
        out.add(o);
      }
    }
    return out;
  }

  /**
   * The detector's view. The position is capped at the size last seen: an instance continued on
   * a copy shorter than what was already read (lines written between copy and truncate) must not
   * look truncated again and again.
   */
  private static Tracked tracked(TrackedFile f, long position) {
    return new Tracked(f.path.toString(), f.identity, Math.min(position, f.sizeSeen), f.sizeSeen);
  }

  private String newId(FileIdentity identity) {
    while (true) {
      String id = identity.instanceId(String.format("%08x", random.nextInt()));
      if (!registry.contains(id)) {
        return id;
      }
    }
  }

  private void tryCheckpoint() {
    try {
      checkpointer.checkpoint();
      undurable = false;
    } catch (IOException e) {
      // Logged by the checkpointer; new files wait, already durable ones go on.
      errors++;
    }
  }

  private void publishOpenNames() {
    Set<String> names = new HashSet<>();
    for (TrackedFile f : files.values()) {
      if (f.isOpen() && f.atPath) {
        names.add(f.path.getFileName().toString());
      }
    }
    openFileNames = Set.copyOf(names);
  }

  private void warnOnce(String path, String what, IOException e) {
    if (warnedPaths.add(path)) {
      log.warn("{}: {} {}: {}", label, what, path, e.toString());
    }
  }

  /** For tests: the instance ids this tailer tracks. */
  Set<String> trackedIds() {
    return Set.copyOf(files.keySet());
  }
}
