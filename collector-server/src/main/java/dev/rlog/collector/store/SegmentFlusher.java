package dev.rlog.collector.store;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forces the active segment to disk from a second thread while the store writer goes on writing,
 * so that the forces the store must make (a rotated segment before the next one is created, the
 * active one before each checkpoint, each commit with {@code fsync: always}) find little left to
 * write and the disk is busy all along instead of in turns with the writer.
 *
 * <p>Measured on 2026-11-30 (collector benchmark, TCP 8 × 512 B, 128 MiB segments): without it
 * the writer spent about half its time in {@code fdatasync} at rotations, during which nothing
 * was written, and the disk idled while the next 128 MiB went into the page cache.
 *
 * <p><b>When.</b> {@link #written} tells it that the writer wrote {@code bytes} more to a channel;
 * once {@value #DEFAULT_STEP_BYTES} bytes (the step) are unforced it forces them, and waits
 * again until the next step is written. <b>Errors.</b> On Linux a write-back
 * error is reported to one {@code fsync} caller only, so an error this thread meets is kept and
 * {@link #force} throws it to the writer for that channel (and every later force of it): the
 * writer then fails the store as if its own force had failed, never commits over lost bytes.
 * A channel closed under it (a rotation) is not an error: the writer forced it before closing.
 * The writer's forces and this thread's never run at once ({@code forceLock}), so an error
 * cannot fall between them.
 *
 * <p><b>Page cache.</b> After each of its forces (and after the writer's own, once a step's worth
 * can go) the thread drops what is now on disk of the active segment, except its last
 * {@code keepCachedBytes}, from the OS page cache
 * ({@link PageCache}), and a rotated segment (forced by the writer before it rotated) whole, so
 * the store reuses a few tens of MiB of pages instead of taking new ones for every byte.
 *
 * <p><b>Threading.</b> {@link #written}, {@link #force} and {@link #close} are for the store's
 * owner thread. One daemon thread, {@value #THREAD_NAME}, started at construction.
 */
final class SegmentFlusher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SegmentFlusher.class);

  static final String THREAD_NAME = "rlog-store-flush";
  /** Unforced bytes that make the thread force. */
  static final long DEFAULT_STEP_BYTES = 8L << 20;
  /** The active segment's last bytes left in the page cache: what a reader of the tail reads. */
  static final long DEFAULT_KEEP_CACHED_BYTES = 32L << 20;

  private final long stepBytes;
  private final PageCache.Dropper pageCache;
  private final long keepCachedBytes;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition work = lock.newCondition();
  /** Held across every force of a segment, by either thread. */
  private final ReentrantLock forceLock = new ReentrantLock();
  private final Thread thread;

  // guarded by lock
  private FileChannel channel;
  private Path path;
  /** Bytes written to the active segment, and below which its cache was dropped. */
  private long end;
  private long dropped;
  private long unforced;
  /** Bytes of the active segment the writer's own force put on disk, still to drop; 0: none. */
  private long onDisk;
  /** Rotated segments whose cache is still to drop, each from the offset with it. */
  private final ArrayDeque<Map.Entry<Path, Long>> retired = new ArrayDeque<>();
  private boolean closed;
  // guarded by forceLock
  private FileChannel failedChannel;
  private IOException failure;

  /** Forces every {@code stepBytes}; leaves the page cache alone. */
  SegmentFlusher(long stepBytes) {
    this(stepBytes, PageCache.NONE, 0);
  }

  /**
   * @param pageCache where forced bytes are dropped from the page cache ({@link PageCache#NONE}:
   *     nowhere)
   * @param keepCachedBytes the active segment's last bytes that stay cached
   */
  SegmentFlusher(long stepBytes, PageCache.Dropper pageCache, long keepCachedBytes) {
    if (stepBytes <= 0 || keepCachedBytes < 0) {
      throw new IllegalArgumentException("stepBytes must be > 0 and keepCachedBytes >= 0, got "
          + stepBytes + ", " + keepCachedBytes);
    }
    this.stepBytes = stepBytes;
    this.pageCache = pageCache;
    this.keepCachedBytes = keepCachedBytes;
    this.thread = new Thread(this::run, THREAD_NAME);
    thread.setDaemon(true); // a store left open must not keep the JVM up
    thread.start();
  }

  /**
   * The writer wrote to {@code ch}, the active segment (file {@code file}), which now holds
   * {@code size} bytes. A new channel means the previous one was rotated: the writer forced it
   * before it created this one.
   */
  void written(FileChannel ch, Path file, long size) {
    lock.lock();
    try {
      if (ch != channel) {
        if (path != null) {
          retired.add(Map.entry(path, dropped));
          work.signal();
        }
        channel = ch;
        path = file;
        // A segment reopened at start counts its earlier bytes as unforced too: one early force.
        end = 0;
        unforced = 0;
        dropped = 0;
        onDisk = 0;
      }
      unforced += size - end;
      end = size;
      if (unforced >= stepBytes) {
        work.signal();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Forces {@code ch} on the caller's thread, after any background force of it has finished.
   *
   * @throws IOException this force failed, or a background force of {@code ch} did earlier
   */
  void force(FileChannel ch) throws IOException {
    forceLock.lock();
    try {
      if (ch == failedChannel) {
        throw new IOException("an earlier background force of this segment failed", failure);
      }
      ch.force(false);
    } finally {
      forceLock.unlock();
    }
    lock.lock();
    try {
      if (ch == channel) {
        unforced = 0;
        // All written is on disk now (this is the writing thread). With fsync: always the
        // writer forces at every commit and the step is never reached: drop from here too,
        // on the background thread, once a step's worth can go.
        if (end - keepCachedBytes - dropped >= stepBytes) {
          onDisk = end;
          work.signal();
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /** Stops the thread and waits for it (and a force in flight). Idempotent. */
  @Override
  public void close() {
    lock.lock();
    try {
      closed = true;
      channel = null;
      work.signal();
    } finally {
      lock.unlock();
    }
    boolean interrupted = false;
    while (true) {
      try {
        thread.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true; // the thread ends on its own after at most one force
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void run() {
    while (true) {
      FileChannel ch;
      Path file;
      long forcedEnd;
      Map.Entry<Path, Long> rotated;
      FileChannel forcedByWriter;
      long writerForcedEnd;
      lock.lock();
      try {
        while (!closed && retired.isEmpty() && onDisk == 0
            && (channel == null || unforced < stepBytes)) {
          work.awaitUninterruptibly();
        }
        if (closed) {
          return;
        }
        rotated = retired.poll();
        forcedByWriter = onDisk > 0 ? channel : null;
        writerForcedEnd = onDisk;
        onDisk = 0;
        boolean step = channel != null && unforced >= stepBytes;
        ch = step ? channel : null;
        file = path;
        forcedEnd = end; // written before the force starts: on disk once it returns
        if (step) {
          unforced = 0;
        }
      } finally {
        lock.unlock();
      }
      if (rotated != null) {
        pageCache.drop(rotated.getKey(), rotated.getValue(), Long.MAX_VALUE);
      }
      if (forcedByWriter != null) {
        dropForced(forcedByWriter, file, writerForcedEnd);
      }
      if (ch != null && forceInBackground(ch)) {
        dropForced(ch, file, forcedEnd);
      }
    }
  }

  /** Drops the active segment's forced bytes but its last {@code keepCachedBytes}. */
  private void dropForced(FileChannel ch, Path file, long forcedEnd) {
    long from;
    long to = forcedEnd - keepCachedBytes;
    lock.lock();
    try {
      if (ch != channel || to <= dropped) {
        return; // rotated meanwhile: the rotation drops it whole
      }
      from = dropped;
      dropped = to;
    } finally {
      lock.unlock();
    }
    pageCache.drop(file, from, to);
  }

  /** One background force of {@code ch}; true if it is on disk now. */
  private boolean forceInBackground(FileChannel ch) {
    forceLock.lock();
    try {
      if (ch != failedChannel) {
        ch.force(false);
        return true;
      }
    } catch (ClosedChannelException e) {
      // Rotated or closed meanwhile: the writer forced it itself before closing.
    } catch (IOException e) {
      failedChannel = ch;
      failure = e;
      log.error("background force of the active segment failed; the store fails at its next "
          + "commit point", e);
    } catch (RuntimeException e) {
      log.error("background force of the active segment failed", e);
    } finally {
      forceLock.unlock();
    }
    return false;
  }
}
