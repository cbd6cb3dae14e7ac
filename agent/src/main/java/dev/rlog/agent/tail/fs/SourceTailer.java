package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.FileIdentity;
import dev.rlog.agent.tail.InstanceState;
import dev.rlog.agent.tail.LineSink;
import dev.rlog.agent.tail.LineSplitter;
import dev.rlog.agent.tail.OffsetRegistry;
import dev.rlog.agent.tail.RescanPlanner;
import dev.rlog.agent.tail.RescanPlanner.Action;
import dev.rlog.agent.tail.RescanPlanner.ContentGone;
import dev.rlog.agent.tail.RescanPlanner.ContinueOnCopy;
import dev.rlog.agent.tail.RescanPlanner.Drain;
import dev.rlog.agent.tail.RescanPlanner.Follow;
import dev.rlog.agent.tail.RescanPlanner.HeldCopy;
import dev.rlog.agent.tail.RescanPlanner.Lost;
import dev.rlog.agent.tail.RescanPlanner.Missing;
import dev.rlog.agent.tail.RescanPlanner.Register;
import dev.rlog.agent.tail.RotationDetector.Observed;
import dev.rlog.agent.tail.TailConfig;
import dev.rlog.agent.tail.TailSource;
import dev.rlog.common.time.Clock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tails the files of one {@link TailSource} and hands their lines to a {@link LineSink}: the thin
 * I/O shell around {@link RescanPlanner} (what a rescan means) and {@link InstanceState} (where
 * each instance is in its life).
 *
 * <p>Driven by {@link #poll()}: a rescan when requested (watch events) or due (interval) lists the
 * whole directory, asks the planner, performs its actions and gives free open slots to instances
 * with unread bytes; then every open instance is read from its position, in blocks of {@code
 * blockBytes} into the shared read buffer, split by its {@link LineSplitter}. Rotated instances
 * (DRAINING) are read before the files at the watched paths, so an old file is finished before
 * its successor overtakes it.
 *
 * <p>What the pattern matches is only what is <em>started</em>: an instance renamed to a name the
 * pattern does not match, copied by copytruncate, or compressed to a {@code .gz} is found again in
 * its directory (by inode, or by its first line) and read to its end, also when that happened
 * while the agent was stopped. Only an instance whose file left the directory before it was read
 * to its end loses lines, and those are counted ({@link Stats#lostBytesGone()}, {@link
 * Stats#lostBytesTruncated()}) and logged with the path and the bytes.
 *
 * <p>Exactly once needs two more rules, both here: a new instance gets a fresh id (see {@link
 * FileIdentity#instanceId}) that is written to the positions file before its first line is
 * offered, and restarts resume from committed positions.
 *
 * <p><b>Bounds.</b> At most {@code maxOpenFiles} files open (rotated instances first, then the
 * oldest; a caught-up file is closed to make room and opened again when it grows). While any file
 * of the tail thread holds a batch the sink refused ({@link ReadGate}), nothing new is read, so at
 * most one refused batch waits. Per open file: the splitter's partial line (at most {@code
 * maxLineBytes + 2}); the read buffer is shared. A rescan costs O(files in the directory): map
 * lookups by path and inode, fingerprints only for files whose size or mtime changed.
 *
 * <p>Threading: not thread-safe; one owner thread calls everything except {@link #stats()} and
 * {@link #openFileNames()}, which any thread may read.
 */
public final class SourceTailer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SourceTailer.class);

  /** Counters and gauges; a snapshot, any thread. */
  public record Stats(String label, int trackedFiles, int openFiles, long linesRead,
      long bytesRead, long sinkRefusals, long piecesCut, long partialsFlushed, long truncations,
      long rotations, long copiesContinued, long errors, long backlogBytes, long lostBytesGone,
      long lostBytesTruncated) {}

  private final String label;
  private final Path dir;
  private final PathMatcher matcher;
  private final String matcherGlob;
  private final TailConfig config;
  private final Clock clock;
  private final OffsetRegistry registry;
  private final Checkpointer checkpointer;
  private final RandomGenerator random;
  private final ByteBuffer readBuffer;
  private final ReadGate gate;
  private final InstanceReader reader;
  private final FileProbe probe;
  private final DirectoryScanner scanner;
  private final Map<String, TrackedFile> files = new LinkedHashMap<>();
  private Map<String, HeldCopy> heldCopies = Map.of();
  private final Set<String> warnedPaths = new HashSet<>();
  private volatile Set<String> openFileNames = Set.of();
  private volatile Stats stats;
  private boolean firstScanDone;
  /** END applies only to a source's first start: files that appear later, even while the agent
   *  was down, start at 0 so nothing written to them is missed. */
  private final boolean startAtEndOnFirstScan;
  private boolean rescanRequested = true;
  private boolean undurable;
  private boolean slotFreed;
  /** Files with unread bytes wait for an open slot: look again after each read. */
  private boolean slotsWanted;
  private long lastRescanNanos;
  private long planDeadlineNanos = Long.MAX_VALUE;
  /** Wall-clock time when the directory was last listed; -1 before the first listing. */
  private volatile long lastListedMillis = -1;
  /** Files rotated away after this time (while the agent was down) are adopted; -1: none. */
  private long adoptSinceMillis = -1;
  private final long startNanos;
  /** Whether the owner receives the directory's events (then rescans are a safety net). */
  private volatile boolean watched;

  private long truncations;
  private long rotations;
  private long copiesContinued;
  private long errors;
  private long lostBytesGone;
  private long lostBytesTruncated;

  /** A tailer with a read gate of its own (tests, single-source use). */
  public SourceTailer(TailSource source, TailConfig config, Clock clock, OffsetRegistry registry,
      Checkpointer checkpointer, LineSink sink, RandomGenerator random, ByteBuffer readBuffer) {
    this(source, config, clock, registry, checkpointer, sink, random, readBuffer, new ReadGate());
  }

  /**
   * @param readBuffer a heap buffer of {@code config.blockBytes()}, shared by all tailers of the
   *     owner thread
   * @param gate shared by all tailers of the owner thread
   */
  SourceTailer(TailSource source, TailConfig config, Clock clock, OffsetRegistry registry,
      Checkpointer checkpointer, LineSink sink, RandomGenerator random, ByteBuffer readBuffer,
      ReadGate gate) {
    if (!readBuffer.hasArray() || readBuffer.capacity() < config.blockBytes()) {
      throw new IllegalArgumentException("readBuffer must be a heap buffer of blockBytes");
    }
    this.label = source.label();
    this.dir = source.directory();
    this.matcher = source.fileNameMatcher();
    this.matcherGlob = source.fileGlob();
    this.config = config;
    this.clock = clock;
    this.registry = registry;
    this.checkpointer = checkpointer;
    this.random = random;
    this.readBuffer = readBuffer;
    this.gate = Objects.requireNonNull(gate, "gate");
    this.reader = new InstanceReader(label, config, clock, registry, sink, gate, readBuffer);
    this.probe = new FileProbe(config.fingerprintBytes());
    this.scanner = new DirectoryScanner(label, dir, matcher,
        new FileProbe(config.fingerprintBytes()));
    long now = clock.nanoTime();
    this.lastRescanNanos = now;
    this.startNanos = now;
    List<String> known = registry.idsOf(label);
    this.startAtEndOnFirstScan =
        config.startPosition() == TailConfig.StartPosition.END && known.isEmpty();
    // Instances from the positions file start closed; the first rescan finds their files again,
    // wherever they are in the directory now.
    for (String id : known) {
      Path p = Path.of(registry.path(id));
      TrackedFile f = new TrackedFile(id, label, registry.identity(id), p,
          registry.readPosition(id), config.maxLineBytes(), now);
      f.atMatchedPath = p.getFileName() != null && matcher.matches(p.getFileName());
      files.put(id, f);
    }
    this.stats = computeStats();
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

  /**
   * The owner gets the directory's change events (inotify) and calls {@link #requestRescan()} on
   * them: the periodic rescan can then be as rare as {@code watchedRescanInterval}.
   */
  public void watched(boolean watched) {
    this.watched = watched;
  }

  private long rescanIntervalNanos() {
    return (watched ? config.watchedRescanInterval() : config.rescanInterval()).toNanos();
  }

  /**
   * The agent last listed this directory at {@code millis} (wall clock) before it stopped: an
   * unknown file named like a watched one (its rotated name) and modified since then was at the
   * watched path while nobody looked, and is read too (during the first {@code copyGrace} after
   * start). Call before the first poll; -1 turns it off (first start).
   */
  public void adoptFilesModifiedSince(long millis) {
    this.adoptSinceMillis = millis;
  }

  /** Wall-clock time when the directory was last listed (-1: not yet); any thread. */
  public long lastListedMillis() {
    return lastListedMillis;
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
    if (rescanRequested || now - lastRescanNanos >= rescanIntervalNanos()
        || (planDeadlineNanos != Long.MAX_VALUE && now - planDeadlineNanos >= 0)) {
      rescan(now);
    }
    if (undurable) {
      tryCheckpoint();
    }
    boolean more = false;
    // Rotated instances first: the old file is read to its end before the new one.
    for (TrackedFile f : files.values()) {
      if (f.state != InstanceState.READING && (f.isOpen() || f.pending != null)) {
        more |= service(f, now);
      }
    }
    for (TrackedFile f : files.values()) {
      if (f.state == InstanceState.READING) {
        more |= service(f, now);
      }
    }
    if (slotFreed || slotsWanted) {
      slotFreed = false;
      more |= assignSlots(now);
    }
    expire(now);
    stats = computeStats();
    return nextDeadline(now, more);
  }

  public Stats stats() {
    return stats;
  }

  @Override
  public void close() {
    for (TrackedFile f : files.values()) {
      f.closeChannel();
      if (f.isOpen()) {
        f.state = InstanceState.DORMANT;
      }
    }
    openFileNames = Set.of();
  }

  // ---------------------------------------------------------------- reading

  /** Returns true if the file may have more to read right away. */
  private boolean service(TrackedFile f, long now) {
    try {
      if (f.pending != null && !reader.offerPending(f)) {
        return false;
      }
      boolean more = false;
      boolean reading = f.state == InstanceState.READING || f.state == InstanceState.DRAINING;
      if (reading && !gate.closed() && registry.isDurable(f.id)) {
        InstanceReader.Outcome outcome = reader.read(f, now);
        switch (outcome) {
          case SHRANK, HEAD_CHANGED -> {
            if (f.state == InstanceState.DRAINING) {
              markContentGone(f, now); // a file we only drain was rewritten: nothing more
            } else {
              rescanRequested = true; // truncated, maybe rewritten: the rescan decides
            }
          }
          default -> more = outcome == InstanceReader.Outcome.MORE;
        }
        if (f.pending == null && f.isOpen() && f.state != InstanceState.FINISHING) {
          reader.maybeFlushPartial(f, now);
        }
        if (f.state == InstanceState.DRAINING && f.pending == null && !more && drained(f, now)) {
          log.info("{}: {} is read to its end{}; closing it", label, f.path,
              f.gzip != null ? "" : " and idle for " + config.drainIdle());
          f.state = InstanceState.FINISHING;
        }
      }
      if (f.state == InstanceState.FINISHING && reader.finish(f)) {
        close(f, f.afterFinish, now);
      }
      return more;
    } catch (IOException e) {
      errors++;
      log.warn("{}: reading {} failed; rescanning", label, f.path, e);
      rescanRequested = true;
      return false;
    }
  }

  private boolean drained(TrackedFile f, long now) {
    return f.gzip != null ? f.gzip.ended()
        : now - f.lastGrowthNanos >= config.drainIdle().toNanos();
  }

  private void close(TrackedFile f, InstanceState next, long now) {
    f.closeChannel();
    f.state = next;
    f.afterFinish = InstanceState.DORMANT;
    f.closedAtNanos = now;
    slotFreed = true;
    publishOpenNames();
  }

  private void expire(long now) {
    long retention = config.retention().toNanos();
    files.values().removeIf(f -> {
      if (f.isOpen() || f.pending != null) {
        return false;
      }
      boolean contentGone = f.state == InstanceState.CONTENT_GONE;
      boolean forget = f.lost
          || (contentGone && now - f.lastSeenNanos >= retention)
          || (f.state == InstanceState.DORMANT && !f.atMatchedPath && f.unreadBytes() == 0
              && now - f.closedAtNanos >= retention);
      if (!forget || !registry.forgetIfCommitted(f.id)) {
        return false;
      }
      if (contentGone && !f.lost && f.sizeSeen > f.emittedPosition()) {
        long lost = f.sizeSeen - f.emittedPosition();
        lostBytesTruncated += lost;
        log.warn("{}: {} was truncated or rewritten at offset {} of {} and no copy of it appeared"
            + " within {}: {} bytes of it were never read and are lost", label, f.path,
            f.emittedPosition(), f.sizeSeen, config.retention(), lost);
      }
      log.debug("{}: forgot {}", label, f);
      return true;
    });
  }

  private long nextDeadline(long now, boolean more) {
    if (more || rescanRequested) {
      return now;
    }
    long retry = now + config.sinkRetry().toNanos();
    long retention = config.retention().toNanos();
    long next = Math.min(lastRescanNanos + rescanIntervalNanos(), planDeadlineNanos);
    if (undurable) {
      next = Math.min(next, retry);
    }
    for (TrackedFile f : files.values()) {
      if (f.pending != null || f.state == InstanceState.FINISHING) {
        next = Math.min(next, retry);
      }
      if (f.isOpen() && f.partialOffset >= 0) {
        next = Math.min(next, f.partialSinceNanos + config.partialLineWait().toNanos());
      }
      if (f.state == InstanceState.DRAINING && f.gzip == null) {
        next = Math.min(next, f.lastGrowthNanos + config.drainIdle().toNanos());
      }
      if (f.state == InstanceState.CONTENT_GONE && now - f.lastSeenNanos < retention) {
        next = Math.min(next, f.lastSeenNanos + retention);
      }
    }
    // Something due that could not complete (sink full, not yet acknowledged): do not spin.
    return next <= now ? retry : next;
  }

  // ---------------------------------------------------------------- rescanning

  private void rescan(long now) {
    rescanRequested = false;
    lastRescanNanos = now;
    long listedAt = clock.currentTimeMillis();
    List<Observed> seen = scanner.list();
    if (seen == null) {
      return;
    }
    List<RescanPlanner.Instance> views = new ArrayList<>(files.size());
    for (TrackedFile f : files.values()) {
      if (!f.lost) {
        views.add(f.view());
      }
    }
    scanner.beginScan(files);
    RescanPlanner.Plan plan = RescanPlanner.plan(views, seen, heldCopies, scanner,
        !firstScanDone && startAtEndOnFirstScan, now, config.copyGrace(), config.copyGrace(),
        adoption(seen, now));
    if (scanner.raced()) {
      // A file changed between the listing and reading its first line (logrotate shifting
      // names right now): the listing is not one moment, so nothing is decided on it. List
      // again shortly, not at once: a directory that keeps changing must not spin this thread.
      log.debug("{}: {} changed while it was listed; listing again", label, dir);
      planDeadlineNanos = now + config.sinkRetry().toNanos();
      return;
    }
    for (Action a : plan.actions()) {
      apply(a, now);
    }
    heldCopies = plan.held();
    planDeadlineNanos = plan.nextDeadlineNanos();
    scanner.retain(seen);
    firstScanDone = true;
    lastListedMillis = listedAt;
    assignSlots(now);
    publishOpenNames();
  }

  private void apply(Action a, long now) {
    if (a instanceof Follow fo) {
      follow(files.get(fo.id()), fo.at(), fo.moved(), now);
    } else if (a instanceof ContinueOnCopy c) {
      continueOn(files.get(c.id()), c.copy(), now);
    } else if (a instanceof Drain d) {
      drain(files.get(d.id()), d.replaced(), now);
    } else if (a instanceof ContentGone g) {
      markContentGone(files.get(g.id()), now);
    } else if (a instanceof Missing m) {
      missing(files.get(m.id()), now);
    } else if (a instanceof Lost l) {
      lose(files.get(l.id()));
    } else if (a instanceof Register r) {
      register(r.file(), r.startAt(), now);
    } else {
      throw new IllegalStateException("unknown action " + a);
    }
  }

  /** What may be adopted in this scan, or null (see {@link #adoptFilesModifiedSince}). */
  private RescanPlanner.Adoption adoption(List<Observed> seen, long now) {
    if (adoptSinceMillis < 0 || now - startNanos >= config.copyGrace().toNanos()) {
      return null;
    }
    Set<String> prefixes = new HashSet<>();
    String glob = matcherGlob;
    if (glob.chars().noneMatch(c -> c == '*' || c == '?' || c == '[' || c == '{' || c == '\\')) {
      prefixes.add(glob);
    }
    for (Observed o : seen) {
      if (o.matched()) {
        prefixes.add(Path.of(o.path()).getFileName().toString());
      }
    }
    for (TrackedFile f : files.values()) {
      Path name = f.path.getFileName();
      if (name != null && matcher.matches(name)) {
        prefixes.add(name.toString());
      }
    }
    // Timestamps of files are coarser than the clock; a second of slack adopts nothing known.
    return new RescanPlanner.Adoption(adoptSinceMillis - 1000, prefixes);
  }

  private void follow(TrackedFile f, Observed at, boolean moved, long now) {
    if (moved) {
      rotations++;
      if (f.atMatchedPath && !at.matched()) {
        log.info("{}: {} was renamed to {}; reading it to its end there", label, f.path,
            at.path());
      } else {
        log.info("{}: {} moved to {}; following it", label, f.path, at.path());
      }
      relocate(f, at);
    }
    f.atMatchedPath = at.matched();
    f.lastSeenNanos = now;
    f.missingSinceNanos = -1;
    f.modifiedMillis = at.modifiedMillis();
    f.sizeSeen = Math.max(f.sizeSeen, at.size());
    if (f.state == InstanceState.READING && !at.matched()) {
      f.state = InstanceState.DRAINING;
      f.lastGrowthNanos = now; // the writer may still write to it; give it drainIdle from now
    } else if (f.state == InstanceState.DRAINING && at.matched() && f.gzip == null) {
      f.state = InstanceState.READING;
    }
  }

  /** The instance goes on in another file (its copy, maybe compressed) from where it was. */
  private void continueOn(TrackedFile f, Observed copy, long now) {
    long resume = f.emittedPosition();
    copiesContinued++;
    log.info("{}: {} is the copy of {}{}; continuing {} at offset {}", label, copy.path(),
        f.path, copy.compressed() ? " (compressed)" : " (copytruncate)", f.id, resume);
    if (f.isOpen()) {
      f.closeChannel();
      slotFreed = true;
    }
    relocate(f, copy);
    f.state = InstanceState.DORMANT;
    f.afterFinish = InstanceState.DORMANT;
    f.atMatchedPath = copy.matched() && !copy.compressed();
    f.splitter = new LineSplitter(resume, config.maxLineBytes());
    f.partialOffset = -1;
    f.sizeSeen = copy.size();
    f.modifiedMillis = copy.modifiedMillis();
    f.lastSeenNanos = now;
    f.missingSinceNanos = -1;
    f.closedAtNanos = now;
  }

  private void drain(TrackedFile f, boolean replaced, long now) {
    if (f.state != InstanceState.READING) {
      return;
    }
    log.info("{}: {} {}; reading it to its end through the open file", label, f.path,
        replaced ? "was replaced by another file" : "is gone");
    rotations++;
    f.state = InstanceState.DRAINING;
    f.atMatchedPath = false;
    f.lastGrowthNanos = now; // the writer may still be writing to the old file
  }

  private void markContentGone(TrackedFile f, long now) {
    log.info("{}: {} was truncated or rewritten at offset {}; its file now starts over as a new "
        + "instance", label, f.path, f.consumedPosition());
    truncations++;
    f.atMatchedPath = false;
    f.lastSeenNanos = now;
    if (f.isOpen()) {
      f.state = InstanceState.FINISHING;
      f.afterFinish = InstanceState.CONTENT_GONE;
    } else {
      f.state = InstanceState.CONTENT_GONE;
    }
  }

  private void missing(TrackedFile f, long now) {
    if (f.missingSinceNanos < 0) {
      f.missingSinceNanos = now;
      log.info("{}: {} (instance {}, read to offset {}) is not in {} any more; looking for it "
          + "for {}", label, f.path, f.id, f.emittedPosition(), dir, config.copyGrace());
    }
  }

  private void lose(TrackedFile f) {
    // From what was shipped: a partial last line read but not emitted is lost with the rest.
    long lost = Math.max(0, f.sizeSeen - f.emittedPosition());
    f.lost = true;
    if (lost > 0) {
      lostBytesGone += lost;
      log.warn("{}: {} left {} before it was read to its end: {} bytes after offset {} are lost",
          label, f.path, dir, lost, f.emittedPosition());
    } else {
      log.info("{}: {} is gone from {}; forgetting instance {}", label, f.path, dir, f.id);
    }
  }

  private void register(Observed o, long start, long now) {
    String id = newId(o.identity());
    registry.register(id, label, o.identity(), o.path(), start);
    TrackedFile f = new TrackedFile(id, label, o.identity(), Path.of(o.path()), start,
        config.maxLineBytes(), now);
    f.atMatchedPath = o.matched();
    f.sizeSeen = Math.max(start, o.size());
    f.modifiedMillis = o.modifiedMillis();
    files.put(id, f);
    undurable = true;
    if (o.matched()) {
      log.info("{}: new file {} as {} from offset {}", label, o.path(), id, start);
    } else {
      log.info("{}: {} was written and rotated while the agent was down; reading it as {}",
          label, o.path(), id);
    }
  }

  /**
   * Gives open slots to closed instances with unread bytes: rotated ones first, then the oldest.
   * When all slots are taken, caught-up files at watched paths are closed to make room (they are
   * opened again when they grow). Returns true if it opened something.
   */
  private boolean assignSlots(long now) {
    List<TrackedFile> waiting = new ArrayList<>();
    int open = 0;
    for (TrackedFile f : files.values()) {
      if (f.isOpen()) {
        open++;
      } else if (f.state == InstanceState.DORMANT && !f.lost && f.unreadBytes() > 0) {
        waiting.add(f);
      }
    }
    slotsWanted = false;
    if (waiting.isEmpty()) {
      return false;
    }
    waiting.sort(Comparator.comparing((TrackedFile f) -> f.atMatchedPath)
        .thenComparingLong(f -> f.modifiedMillis));
    List<TrackedFile> evictable = null;
    int nextEvictable = 0;
    boolean opened = false;
    for (TrackedFile w : waiting) {
      if (open >= config.maxOpenFiles()) {
        if (evictable == null) {
          evictable = new ArrayList<>();
          for (TrackedFile f : files.values()) {
            if (f.state == InstanceState.READING && f.pending == null && f.unreadBytes() == 0) {
              evictable.add(f);
            }
          }
          evictable.sort(Comparator.comparingLong(f -> f.lastGrowthNanos));
        }
        if (nextEvictable >= evictable.size()) {
          slotsWanted = true; // every open file still has bytes to read: after the next read
          break;
        }
        TrackedFile e = evictable.get(nextEvictable++);
        log.debug("{}: closing caught-up {} to make room for {}", label, e.path, w.path);
        close(e, InstanceState.DORMANT, now);
        open--;
      }
      if (open(w, now)) {
        open++;
        opened = true;
      }
    }
    slotFreed = false;
    publishOpenNames();
    return opened;
  }

  /** Opens a closed instance at its path, resuming where its lines were emitted. */
  private boolean open(TrackedFile f, long now) {
    long resume = f.emittedPosition();
    boolean gz = FileProbe.isGzip(f.path.getFileName());
    try {
      if (gz) {
        String fp;
        try {
          fp = probe.gzipFingerprint(f.path, f.identity.fileKey());
        } catch (FileProbe.MovedException e) {
          fp = null;
        }
        if (!f.identity.fingerprint().equals(fp)) {
          rescanRequested = true;
          return false;
        }
        f.gzip = GzipTail.open(f.path, resume, readBuffer.array());
      } else {
        FileChannel ch = openVerified(f.path, f.identity);
        if (ch == null) {
          return false;
        }
        f.channel = ch;
      }
    } catch (IOException e) {
      errors++;
      warnOnce(f.path.toString(), "cannot open", e);
      return false;
    }
    f.splitter = new LineSplitter(resume, config.maxLineBytes());
    f.partialOffset = -1;
    f.state = f.atMatchedPath && !gz ? InstanceState.READING : InstanceState.DRAINING;
    f.lastGrowthNanos = now;
    log.debug("{}: reading {} from offset {} ({})", label, f.path, resume, f.state);
    return true;
  }

  private void relocate(TrackedFile f, Observed o) {
    f.identity = o.identity();
    f.path = Path.of(o.path());
    f.builder.path(o.path());
    registry.relocate(f.id, f.identity, o.path());
  }

  /** Opens the file and checks it is still the expected one (no swap since the scan). */
  private FileChannel openVerified(Path p, FileIdentity identity) {
    FileChannel ch = null;
    try {
      ch = FileChannel.open(p, StandardOpenOption.READ);
      FileProbe.Stat s = FileProbe.stat(p);
      String key = identity.fileKey();
      boolean same = s != null && (key == null || key.equals(s.fileKey()))
          && identity.fingerprint().equals(probe.fingerprint(ch));
      if (same) {
        return ch;
      }
      rescanRequested = true;
    } catch (NoSuchFileException e) {
      rescanRequested = true;
    } catch (IOException e) {
      errors++;
      warnOnce(p.toString(), "cannot open", e);
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
      if (f.state == InstanceState.READING) {
        names.add(f.path.getFileName().toString());
      }
    }
    openFileNames = Set.copyOf(names);
  }

  private Stats computeStats() {
    int open = 0;
    long backlog = 0;
    for (TrackedFile f : files.values()) {
      open += f.isOpen() ? 1 : 0;
      if (!f.lost && f.state != InstanceState.CONTENT_GONE && registry.contains(f.id)) {
        backlog += Math.max(0, f.sizeSeen - registry.committedPosition(f.id));
      }
    }
    return new Stats(label, files.size(), open, reader.linesRead(), reader.bytesRead(),
        reader.sinkRefusals(), reader.piecesCut(), reader.partialsFlushed(), truncations,
        rotations, copiesContinued, errors + scanner.errors() + reader.errors(), backlog,
        lostBytesGone, lostBytesTruncated);
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

  /** For tests: the state of each tracked instance. */
  Map<String, InstanceState> states() {
    Map<String, InstanceState> out = new LinkedHashMap<>();
    files.forEach((id, f) -> out.put(id, f.state));
    return out;
  }
}
