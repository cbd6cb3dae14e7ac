package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.LineSink;
import dev.rlog.agent.tail.OffsetRegistry;
import dev.rlog.agent.tail.PositionsFile;
import dev.rlog.agent.tail.TailConfig;
import dev.rlog.agent.tail.TailSource;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.FileTime;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * All tailing of one agent: one {@link SourceTailer} per source, driven by one thread named
 * {@value #THREAD_NAME}, which alone owns the {@link OffsetRegistry}, the tailers and their files.
 * A second small thread ({@value #WATCH_THREAD_NAME}) blocks on the {@link WatchService} and only
 * raises flags and wakes the tail thread; a periodic rescan covers {@code OVERFLOW}, missed events
 * and file systems without events ({@code watchedRescanInterval} for a watched directory, {@code
 * rescanInterval} for one that cannot be watched). All tailers share one read buffer and one
 * {@link ReadGate}, so a full shipper holds at most one refused batch in memory.
 *
 * <p>The mtime of {@code state/}{@value #LISTED_FILE_NAME} records when every directory was last
 * listed; the next start reads it to adopt files written and rotated away while it was down.
 *
 * <p>Other threads talk to it through {@link #commit} (a map holding the highest position per
 * instance, applied by the tail thread: bounded by the number of instances), {@link #wakeup}
 * (the sink has room again), {@link #stopReading} and {@link #shutdown}, and read the immutable
 * {@link #committedPositions()} and {@link #stats()} snapshots.
 *
 * <p>Committed positions reach {@code state/positions} within {@code checkpointInterval}, atomically;
 * a new file instance is written there before its first line is offered. Shutdown stops reading,
 * applies the commits received so far, writes the positions, closes the files and completes its
 * future; commits arriving later are lost for this run and the lines are sent again next start.
 *
 * <p>The loop catches every {@code Throwable} but {@code VirtualMachineError}, logs it and goes on
 * after a pause; an interrupt ends it (after the final checkpoint) with the flag restored; if it
 * dies anyway, {@link #terminated()} completes exceptionally and the cause is logged (the agent
 * supervises it and exits non-zero).
 */
public final class TailService implements Service {
  public static final String THREAD_NAME = "rlog-tail";
  public static final String WATCH_THREAD_NAME = "rlog-tail-watch";
  /**
   * In the state directory; its mtime is when the agent last listed all its directories, so the
   * next start knows which rotated files were written while it was down.
   */
  public static final String LISTED_FILE_NAME = "listed";

  private static final Logger log = LoggerFactory.getLogger(TailService.class);
  private static final long ERROR_PAUSE_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final List<TailSource> sources;
  private final TailConfig config;
  private final OffsetStore store;
  private final LineSink sink;
  private final Clock clock;

  private final ConcurrentHashMap<String, Long> commits = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Path, WatchKey> watchedDirs = new ConcurrentHashMap<>();
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();
  private final AtomicBoolean started = new AtomicBoolean();
  private final AtomicBoolean shutdownCalled = new AtomicBoolean();
  private volatile boolean running;
  private volatile boolean readingStopped;
  private volatile PositionsFile committedSnapshot = PositionsFile.empty();
  private volatile List<SourceTailer.Stats> statsSnapshot = List.of();

  // Owned by the tail thread after start().
  private OffsetRegistry registry;
  private Checkpointer checkpointer;
  private List<SourceTailer> tailers = List.of();
  private List<AtomicBoolean> rescanFlags = List.of();
  private WatchService watch;
  private volatile Thread thread;
  private Thread watcher;
  private long publishedVersion = -1;
  private long markedListedMillis = -1;
  private boolean listedWarned;
  private final Set<Path> unwatchableLogged = new HashSet<>();

  public TailService(List<TailSource> sources, TailConfig config, OffsetStore store,
      LineSink sink, Clock clock) {
    this.sources = List.copyOf(sources);
    this.config = Objects.requireNonNull(config, "config");
    this.store = Objects.requireNonNull(store, "store");
    this.sink = Objects.requireNonNull(sink, "sink");
    this.clock = Objects.requireNonNull(clock, "clock");
    Set<String> labels = new HashSet<>();
    for (TailSource s : this.sources) {
      if (!labels.add(s.label())) {
        throw new IllegalArgumentException("source label " + s.label() + " is used twice");
      }
    }
  }

  /**
   * Loads the committed positions and starts the threads.
   *
   * @throws IOException if the positions file is corrupt ({@link
   *     dev.rlog.agent.tail.PositionsFileException}) or the watch service cannot be created
   */
  @Override
  public void start() throws IOException {
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("already started");
    }
    try {
      registry = OffsetRegistry.restore(store.load());
      checkpointer = new Checkpointer(registry, store, clock, config.checkpointInterval());
      ByteBuffer readBuffer = ByteBuffer.allocate(config.blockBytes());
      ReadGate gate = new ReadGate();
      SecureRandom random = new SecureRandom();
      List<SourceTailer> ts = new ArrayList<>();
      List<AtomicBoolean> flags = new ArrayList<>();
      for (TailSource s : sources) {
        ts.add(new SourceTailer(s, config, clock, registry, checkpointer, sink, random, readBuffer,
            gate));
        flags.add(new AtomicBoolean(true));
      }
      long listedBefore = lastListedMillis();
      for (SourceTailer t : ts) {
        t.adoptFilesModifiedSince(listedBefore);
      }
      tailers = List.copyOf(ts);
      rescanFlags = List.copyOf(flags);
      publish();
      watch = sources.isEmpty() ? null
          : sources.get(0).directory().getFileSystem().newWatchService();
      registerDirectories();
    } catch (IOException | RuntimeException e) {
      closeQuietly();
      terminated.complete(null);
      throw e;
    }
    running = true;
    thread = new Thread(this::runLoop, THREAD_NAME);
    thread.start();
    if (watch != null) {
      watcher = new Thread(this::runWatcher, WATCH_THREAD_NAME);
      watcher.setDaemon(true);
      watcher.start();
    }
    log.info("tailing {} source(s), {} known file instance(s)", tailers.size(), registry.size());
  }

  /**
   * Lines of {@code fileInstance} before {@code position} (a {@code LineBatch.end(i)}) are
   * acknowledged by the collector. Any thread; never blocks. The caller must commit a position
   * only once every line of that instance before it is acknowledged (an acknowledged prefix);
   * committing past an unacknowledged line would lose it after a crash. Positions inside a batch
   * the sink took only partly are fine: they take effect once the batch is accepted.
   */
  public void commit(String fileInstance, long position) {
    Objects.requireNonNull(fileInstance, "fileInstance");
    if (position < 0) {
      throw new IllegalArgumentException("position must be >= 0: " + position);
    }
    if (terminated.isDone()) {
      log.warn("commit of {} at {} after shutdown; those lines will be sent again next start",
          fileInstance, position);
      return;
    }
    if (commits.merge(fileInstance, position, Math::max) == position) {
      // The loop may be parked until its next rescan; the checkpoint interval must hold anyway.
      wakeup();
    }
  }

  /** The sink has room again: offer refused batches now instead of after {@code sinkRetry}. */
  public void wakeup() {
    Thread t = thread;
    if (t != null) {
      LockSupport.unpark(t);
    }
  }

  /**
   * Stops reading files but keeps applying and persisting commits, for a graceful shutdown: stop
   * reading, let the shipper drain and commit what was acknowledged, then {@link #shutdown()}.
   */
  public void stopReading() {
    readingStopped = true;
    wakeup();
  }

  /** The committed positions as of the tail thread's last cycle. */
  public PositionsFile committedPositions() {
    return committedSnapshot;
  }

  /** Per-source counters as of the tail thread's last cycle. */
  public List<SourceTailer.Stats> stats() {
    return statsSnapshot;
  }

  /**
   * Completes when the tail thread ended, without asking it to (exceptionally if it died); for
   * supervision.
   */
  public CompletableFuture<Void> terminated() {
    return terminated;
  }

  /** Idempotent: stops reading, persists the commits received so far, closes files. */
  @Override
  public CompletableFuture<Void> shutdown() {
    if (shutdownCalled.compareAndSet(false, true)) {
      running = false;
      Thread t = thread;
      if (t == null) {
        if (started.get() && !terminated.isDone()) {
          closeQuietly();
        }
        terminated.complete(null);
      } else {
        LockSupport.unpark(t);
      }
    }
    return terminated;
  }

  // ---------------------------------------------------------------- tail thread

  private void runLoop() {
    boolean interrupted = false;
    Throwable fatal = null;
    try {
      while (running) {
        try {
          long next = cycle();
          long wait = next - clock.nanoTime();
          if (wait > 0 && running) {
            LockSupport.parkNanos(this, wait);
          }
          if (Thread.interrupted()) {
            // Cleared so the final checkpoint's FileChannel works; restored before the thread ends.
            interrupted = true;
            log.warn("{} interrupted; stopping", THREAD_NAME);
            break;
          }
        } catch (VirtualMachineError e) {
          throw e;
        } catch (Throwable t) {
          log.error("tail cycle failed; going on in {} ms", ERROR_PAUSE_NANOS / 1_000_000, t);
          LockSupport.parkNanos(this, ERROR_PAUSE_NANOS);
          interrupted |= Thread.interrupted();
        }
      }
    } catch (Throwable t) {
      fatal = t;
      log.error("{} died", THREAD_NAME, t);
      throw t;
    } finally {
      Throwable failure = fatal;
      try {
        applyCommits();
        checkpointer.checkpoint();
        publish();
      } catch (Throwable t) {
        log.error("final checkpoint of positions failed; acknowledged lines since the last one "
            + "will be sent again next start", t);
        failure = failure == null ? t : failure;
      }
      closeQuietly();
      running = false;
      if (failure != null) {
        terminated.completeExceptionally(failure);
      } else {
        terminated.complete(null);
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** One pass; returns the nanoTime deadline of the next one. */
  private long cycle() throws IOException {
    long now = clock.nanoTime();
    applyCommits();
    long next = now + config.watchedRescanInterval().toNanos();
    if (!readingStopped) {
      for (int i = 0; i < tailers.size(); i++) {
        SourceTailer t = tailers.get(i);
        if (rescanFlags.get(i).getAndSet(false)) {
          t.requestRescan();
        }
        next = Math.min(next, t.poll());
      }
      if (watchedDirs.size() < distinctDirectories().size()) {
        registerDirectories();
      }
    }
    if (!commits.isEmpty()) {
      applyCommits(); // a re-offered batch may just have been accepted: held commits now fit
    }
    checkpointer.checkpointIfDue();
    markListed();
    publish();
    if (registry.hasUnpersistedChanges()) {
      next = Math.min(next, checkpointer.nextDueNanos());
    }
    return next;
  }

  /**
   * Applies queued commits. A sink may take part of a batch and refuse the rest; acknowledgements
   * of the taken lines can then arrive before the tailer re-offers the batch and advances the read
   * position. Such a commit is applied up to the read position (every line before it is
   * acknowledged too, commits being acknowledged prefixes) and the remainder stays queued until
   * the read position catches up: bounded, one entry per instance.
   */
  private void applyCommits() {
    for (String id : commits.keySet()) {
      Long pos = commits.get(id);
      if (pos == null) {
        continue;
      }
      commits.remove(id, pos); // a newer value merged meanwhile stays for the next pass
      if (!registry.contains(id)) {
        continue; // forgotten: it was fully committed already
      }
      long read = registry.readPosition(id);
      registry.commit(id, Math.min(pos, read));
      if (pos > read) {
        commits.merge(id, pos, Math::max);
      }
    }
  }

  private Path listedFile() {
    return store.file().resolveSibling(LISTED_FILE_NAME);
  }

  /** When the previous run last listed all directories, or -1 (first start, or unknown). */
  private long lastListedMillis() {
    try {
      return Files.getLastModifiedTime(listedFile()).toMillis();
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * Records, as the mtime of {@value #LISTED_FILE_NAME}, the time by which every directory was
   * listed (at most once a second). Not fsynced: after a power loss an older time only makes the
   * next start look at more rotated files, whose first lines keep known ones out.
   */
  private void markListed() {
    long min = Long.MAX_VALUE;
    for (SourceTailer t : tailers) {
      min = Math.min(min, t.lastListedMillis());
    }
    if (min < 0 || min == Long.MAX_VALUE || min - markedListedMillis < 1000) {
      return;
    }
    try {
      Path f = listedFile();
      if (!Files.exists(f)) {
        Files.write(f, new byte[0]);
      }
      Files.setLastModifiedTime(f, FileTime.fromMillis(min));
      markedListedMillis = min;
    } catch (IOException e) {
      if (!listedWarned) {
        listedWarned = true;
        log.warn("cannot record the listing time in {}: {}", listedFile(), e.toString());
      }
    }
  }

  private void publish() {
    if (registry.version() != publishedVersion) {
      publishedVersion = registry.version();
      committedSnapshot = registry.committedSnapshot();
    }
    List<SourceTailer.Stats> s = new ArrayList<>(tailers.size());
    for (SourceTailer t : tailers) {
      s.add(t.stats());
    }
    statsSnapshot = List.copyOf(s);
  }

  private Set<Path> distinctDirectories() {
    Set<Path> dirs = new LinkedHashSet<>();
    for (SourceTailer t : tailers) {
      dirs.add(t.directory());
    }
    return dirs;
  }

  private void registerDirectories() {
    if (watch == null) {
      return;
    }
    for (Path dir : distinctDirectories()) {
      if (watchedDirs.containsKey(dir)) {
        continue;
      }
      try {
        WatchKey key = dir.register(watch, StandardWatchEventKinds.ENTRY_CREATE,
            StandardWatchEventKinds.ENTRY_DELETE, StandardWatchEventKinds.ENTRY_MODIFY);
        watchedDirs.put(dir, key);
        markWatched(dir, true);
        unwatchableLogged.remove(dir);
        flagDirectory(dir); // events may have been missed before the registration
      } catch (NoSuchFileException e) {
        // Not there yet; the periodic rescan covers it and we try again next cycle.
      } catch (IOException | ClosedWatchServiceException e) {
        if (unwatchableLogged.add(dir)) {
          log.warn("cannot watch {}; relying on rescans every {}", dir, config.rescanInterval(), e);
        }
      }
    }
  }

  private void markWatched(Path dir, boolean on) {
    for (SourceTailer t : tailers) {
      if (t.directory().equals(dir)) {
        t.watched(on);
      }
    }
  }

  private void flagDirectory(Path dir) {
    for (int i = 0; i < tailers.size(); i++) {
      if (tailers.get(i).directory().equals(dir)) {
        rescanFlags.get(i).set(true);
      }
    }
  }

  private void closeQuietly() {
    for (SourceTailer t : tailers) {
      t.close();
    }
    if (watch != null) {
      try {
        watch.close();
      } catch (IOException e) {
        log.debug("closing the watch service failed", e);
      }
    }
  }

  // ---------------------------------------------------------------- watch thread

  private void runWatcher() {
    while (true) {
      try {
        WatchKey key = watch.take();
        Path dir = (Path) key.watchable();
        for (WatchEvent<?> ev : key.pollEvents()) {
          onEvent(dir, ev);
        }
        if (!key.reset()) {
          watchedDirs.remove(dir, key); // directory gone; re-registered when it is back
          markWatched(dir, false);
          flagDirectory(dir);
        }
        wakeup();
      } catch (ClosedWatchServiceException e) {
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (VirtualMachineError e) {
        throw e;
      } catch (Throwable t) {
        log.error("{} failed on an event; rescans go on", WATCH_THREAD_NAME, t);
      }
    }
  }

  private void onEvent(Path dir, WatchEvent<?> ev) {
    boolean overflow = ev.kind() == StandardWatchEventKinds.OVERFLOW;
    for (int i = 0; i < tailers.size(); i++) {
      SourceTailer t = tailers.get(i);
      if (!t.directory().equals(dir)) {
        continue;
      }
      if (overflow) {
        rescanFlags.get(i).set(true);
        continue;
      }
      Path name = (Path) ev.context();
      if (!t.matches(name)) {
        continue;
      }
      // Growth of a file being read needs no rescan, the wakeup reads it; anything else does.
      if (ev.kind() != StandardWatchEventKinds.ENTRY_MODIFY
          || !t.openFileNames().contains(name.toString())) {
        rescanFlags.get(i).set(true);
      }
    }
  }
}
