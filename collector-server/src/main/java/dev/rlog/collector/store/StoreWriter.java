package dev.rlog.collector.store;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that moves chunks from the {@link IngestQueue} into the {@link SegmentStore}.
 *
 * <p><b>Loop.</b> The thread {@value #THREAD_NAME} waits on the queue (at most 50 ms, or until
 * the next checkpoint is due), takes <em>everything</em> pending as one batch, appends it with
 * one {@link SegmentStore#append} (one write syscall per 2 MiB, one fsync per batch with
 * {@link FsyncPolicy#ALWAYS}), then reports it with {@link IngestQueue#committed}, which frees
 * the queue space and fires the commit callbacks (the acknowledgements), and gives the chunks'
 * buffers back to their {@link dev.rlog.common.buffer.ChunkBufferPool}. Every checkpoint
 * interval (injected {@link Clock}, default {@link #DEFAULT_CHECKPOINT_INTERVAL}) it writes the
 * positions checkpoint if anything was committed since the last one. It never sleeps (but to
 * back off while the disk refuses writes, see below): all
 * waiting is on the queue. <b>Bounds:</b> one batch is at most what the queue holds, so memory
 * is bounded by the queue's capacity; a slow disk backs up into the queue, which pauses ingest.
 *
 * <p><b>Disk full.</b> If an append fails but the store could cut its active segment back to
 * the commit point ({@link SegmentStore#tryRecover()}), the writer keeps the uncommitted chunks
 * and tries them again with a backoff (100 ms doubling to 5 s). Nothing is dropped and nothing is
 * acknowledged meanwhile: the queue stays full, so ingest stays paused (TCP senders block, gRPC
 * streams stop being read) until the disk takes writes again. Counted in
 * {@link #writeRetries()}.
 *
 * <p><b>Failure.</b> If the store cannot go on (the cut failed, a rotation failed half-way, or
 * shutdown was requested during an outage), the writer logs it and calls
 * {@link IngestQueue#fail}: every commit waiter gets the error and every later offer throws, so
 * intake stops instead of dropping or acknowledging unstored data. The queue's failure is
 * permanent, so there is nothing left for the thread to do: it checkpoints the last good commit
 * point, closes the store and ends; {@link #terminated()} (and {@link #shutdown()}) complete
 * exceptionally with the error. The collector should then report itself unhealthy and be
 * restarted, which recovers the store. {@link VirtualMachineError}s fail the queue the same way
 * and are rethrown; an interrupt of the thread (nobody should: {@code FileChannel} I/O on an
 * interrupted thread closes the channel) is treated as a failure and the flag is restored.
 *
 * <p><b>Shutdown.</b> {@link #shutdown()} closes the queue (the lead normally has already, after
 * stopping ingest), and the writer keeps draining until the queue is closed and idle, i.e.
 * everything it accepted, including producers' last {@link IngestQueue#forceOffer}s, is
 * committed; then it checkpoints and closes the store and completes the future. Chunks offered
 * after that are never written, so stop the producers first. A held {@link WriteGate} also
 * holds shutdown.
 */
public final class StoreWriter implements Service {
  private static final Logger log = LoggerFactory.getLogger(StoreWriter.class);

  public static final String THREAD_NAME = "rlog-store-writer";
  public static final Duration DEFAULT_CHECKPOINT_INTERVAL = Duration.ofSeconds(2);
  /** Longest wait on the queue, so checkpoints and shutdown are noticed promptly. */
  static final long MAX_DRAIN_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
  /** Backoff between write attempts while the disk refuses writes (full). */
  static final long RETRY_MIN_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
  static final long RETRY_MAX_NANOS = TimeUnit.SECONDS.toNanos(5);

  private final IngestQueue queue;
  private final SegmentStore store;
  private final Clock clock;
  private final long checkpointIntervalNanos;
  private final WriteGate gate;
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();

  // Owned by the writer thread; reused for every batch.
  private final List<IngestQueue.Entry> entries = new ArrayList<>();
  private final List<Chunk> chunks = new ArrayList<>();

  private Thread thread; // guarded by this
  private volatile boolean stopRequested;
  private volatile Throwable failure;
  private volatile long batches;
  private volatile long writeRetries;

  public StoreWriter(IngestQueue queue, SegmentStore store, Clock clock) {
    this(queue, store, clock, DEFAULT_CHECKPOINT_INTERVAL, WriteGate.OPEN);
  }

  /**
   * @param checkpointInterval how often to write the positions checkpoint; bounds how much of
   *     the store recovery re-scans after a crash
   * @param gate {@link WriteGate#OPEN} in production; a held gate stops writing (tests, ops)
   */
  public StoreWriter(
      IngestQueue queue, SegmentStore store, Clock clock, Duration checkpointInterval,
      WriteGate gate) {
    this.queue = Objects.requireNonNull(queue, "queue");
    this.store = Objects.requireNonNull(store, "store");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.gate = Objects.requireNonNull(gate, "gate");
    if (checkpointInterval.isNegative() || checkpointInterval.isZero()) {
      throw new IllegalArgumentException(
          "checkpointInterval must be > 0, got " + checkpointInterval);
    }
    this.checkpointIntervalNanos = checkpointInterval.toNanos();
  }

  /** Starts the writer thread. Idempotent. */
  @Override
  public synchronized void start() {
    if (thread == null) {
      thread = new Thread(this::run, THREAD_NAME);
      thread.start();
    }
  }

  /**
   * Closes the queue, lets the writer commit everything the queue accepted, then checkpoints
   * and closes the store. Idempotent; every call returns the same future, which completes
   * exceptionally if the store failed. Starts the thread if it never was, so accepted chunks
   * are still written.
   */
  @Override
  public CompletableFuture<Void> shutdown() {
    stopRequested = true;
    queue.close();
    start();
    return terminated;
  }

  /**
   * Completes when the writer thread has ended: after {@link #shutdown()}, or exceptionally
   * after a store failure. Lets the collector turn unhealthy when the store fails.
   */
  public CompletableFuture<Void> terminated() {
    return terminated;
  }

  /** The store failure that stopped the writer, or {@code null}. */
  public Throwable failure() {
    return failure;
  }

  /** The store, for metrics (bytes, records, rotations, current segment). */
  public SegmentStore store() {
    return store;
  }

  /** Write attempts repeated because the store refused a write (disk full). */
  public long writeRetries() {
    return writeRetries;
  }

  /** Batches appended so far (one per drain that found chunks). */
  public long batches() {
    return batches;
  }

  private void run() {
    Throwable error = null;
    boolean interrupted = false;
    try {
      loop();
    } catch (InterruptedException e) {
      interrupted = true;
      error = e;
      log.error("store writer interrupted; failing the ingest queue");
    } catch (Throwable t) { // VirtualMachineError included: the queue must learn, then rethrow
      error = t;
      if (!(t instanceof VirtualMachineError)) {
        log.error("store {} failed; ingest stops until restart", store.directory(), t);
      }
    }
    try {
      if (error != null) {
        failure = error;
        queue.fail(error);
      }
      // FileChannel I/O on an interrupted thread would close the channel: clear the flag for
      // the final checkpoint and restore it afterwards.
      interrupted |= Thread.interrupted();
      try {
        store.close();
      } catch (IOException | RuntimeException e) {
        log.warn("closing store {} failed", store.directory(), e);
        if (error == null) {
          error = e;
        } else {
          error.addSuppressed(e);
        }
      }
    } finally {
      if (error == null) {
        log.info("store writer stopped: {} bytes, {} records, {} rotations",
            store.bytesWritten(), store.recordsWritten(), store.rotations());
        terminated.complete(null);
      } else {
        terminated.completeExceptionally(error);
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    if (error instanceof VirtualMachineError) {
      throw (VirtualMachineError) error;
    }
  }

  private void loop() throws IOException, InterruptedException {
    long nextCheckpoint = clock.nanoTime() + checkpointIntervalNanos;
    while (true) {
      long now = clock.nanoTime();
      if (now - nextCheckpoint >= 0) {
        checkpoint();
        nextCheckpoint = now + checkpointIntervalNanos;
      }
      long wait = Math.min(MAX_DRAIN_WAIT_NANOS, nextCheckpoint - now);
      if (queue.drain(entries, wait, TimeUnit.NANOSECONDS) > 0) {
        gate.awaitOpen();
        write();
      } else if (stopRequested && queue.isClosed() && queue.isIdle()) {
        return;
      }
    }
  }

  private void write() throws IOException, InterruptedException {
    try {
      for (int i = 0, n = entries.size(); i < n; i++) {
        chunks.add(entries.get(i).chunk());
      }
      int done = 0; // entries[0, done) are committed and acknowledged to the queue
      long retryWait = RETRY_MIN_NANOS;
      while (done < chunks.size()) {
        List<Chunk> rest = chunks.subList(done, chunks.size());
        try {
          store.append(rest);
          acknowledge(done, chunks.size());
          done = chunks.size();
          if (retryWait != RETRY_MIN_NANOS) {
            log.info("store {} writes again; ingest resumes", store.directory());
          }
        } catch (IOException e) {
          int committed = done + store.lastAppendCommitted();
          acknowledge(done, committed);
          done = committed;
          if (stopRequested || !store.tryRecover()) {
            throw e;
          }
          // Disk full (or a passing I/O error): keep the chunks, write nothing, and let the full
          // queue stop intake (backpressure) instead of dropping records. Try again later.
          writeRetries++;
          if (retryWait == RETRY_MIN_NANOS) {
            log.error("store {} cannot write ({}); ingest pauses until it can, retrying",
                store.directory(), e.toString());
          }
          TimeUnit.NANOSECONDS.sleep(retryWait);
          retryWait = Math.min(RETRY_MAX_NANOS, retryWait * 2);
        }
      }
    } finally {
      chunks.clear();
      entries.clear();
    }
    batches++;
  }

  /**
   * Gives the buffers of entries [from, to) back to the encoders' pool, then tells the queue
   * they are committed. Committed chunks are never written again (only uncommitted ones are
   * retried), and the buffers are back before any acknowledgement fires.
   */
  private void acknowledge(int from, int to) {
    if (to <= from) {
      return;
    }
    long bytes = 0;
    long records = 0;
    for (int i = from; i < to; i++) {
      Chunk chunk = entries.get(i).chunk();
      bytes += chunk.footprint();
      records += chunk.records();
      chunk.releaseBuffer();
    }
    queue.committed(entries.get(to - 1).seq(), bytes, records);
  }

  private void checkpoint() {
    try {
      store.checkpoint();
    } catch (IOException e) {
      // Not fatal: the segments are the truth; recovery then scans from an older checkpoint.
      log.warn("store {}: checkpoint failed ({} so far)", store.directory(),
          store.checkpointFailures(), e);
    }
  }
}
