package dev.rlog.collector.flow;

import dev.rlog.common.buffer.ChunkBufferPool;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one bounded queue in front of the store writer, fed by every ingest path (TCP reads and
 * gRPC batches) in whole {@link Chunk}s.
 *
 * <p><b>Bounds.</b> A chunk occupies its {@link Chunk#footprint() footprint} (the heap its
 * buffer holds) and its records from {@link #tryOffer} until the
 * writer reports it committed ({@link #committed}), so the bound covers what is being written
 * too. Then its buffer goes back to the encoders' {@link ChunkBufferPool}; each accepted offer
 * trims that pool's idle buffers to the room left under the capacity, so queued chunks and idle
 * buffers together stay within it. {@link #tryOffer} refuses a chunk that would take the queue
 * above its capacity (unless the queue is empty, so one chunk larger than the capacity cannot
 * wedge it); the producer then holds that one chunk and waits for {@link #whenResumed}. Above
 * the high watermark the queue is <em>paused</em>: producers stop reading after handing over
 * what they already decoded, and their {@link #whenResumed} callbacks run once the level falls
 * to the low watermark. Memory is therefore bounded by the capacity plus one held chunk per
 * producer.
 *
 * <p><b>Commit.</b> Every accepted chunk gets a sequence number; chunks are written in that
 * order. {@link #whenCommitted} runs a callback once the writer has committed through a given
 * sequence number (or with the error if the store failed).
 *
 * <p><b>Threading.</b> Any thread may offer and register callbacks; exactly one writer thread
 * calls {@link #drain} and {@link #committed}. Callbacks run on the thread that causes them
 * (usually the writer, or the caller when already satisfied) outside the lock, so they must be
 * short: hand real work to an executor or an event loop.
 */
public final class IngestQueue implements ChunkQueue {
  private static final Logger log = LoggerFactory.getLogger(IngestQueue.class);

  /** {@link #tryOffer} result: the queue is full, hold the chunk and wait for resume. */
  public static final long FULL = -1;

  /** An accepted chunk with its sequence number. */
  public record Entry(Chunk chunk, long seq) {}

  private record CommitWaiter(long seq, Consumer<Throwable> callback) {}

  private final long capacityBytes;
  private final long capacityRecords;
  private final WatermarkGate gate;
  private final ChunkBufferPool buffers;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition();
  private final ArrayDeque<Entry> pending = new ArrayDeque<>();
  private final List<Runnable> resumeWaiters = new ArrayList<>();
  private final PriorityQueue<CommitWaiter> commitWaiters =
      new PriorityQueue<>((a, b) -> Long.compare(a.seq, b.seq));
  private long queuedBytes;
  private long queuedRecords;
  private long lastSeq;
  private long committedSeq;
  private Throwable failure;
  private boolean closed;

  private final AtomicLong pauses = new AtomicLong();
  private final AtomicLong refusedOffers = new AtomicLong();

  public IngestQueue(
      long capacityBytes, long capacityRecords, long highBytes, long lowBytes, long highRecords,
      long lowRecords) {
    this(capacityBytes, capacityRecords, highBytes, lowBytes, highRecords, lowRecords,
        ChunkBufferPool.shared());
  }

  /** @param buffers the pool the encoders feeding this queue take their buffers from */
  public IngestQueue(
      long capacityBytes, long capacityRecords, long highBytes, long lowBytes, long highRecords,
      long lowRecords, ChunkBufferPool buffers) {
    if (highBytes > capacityBytes || highRecords > capacityRecords) {
      throw new IllegalArgumentException("high watermarks must not exceed the queue capacity");
    }
    this.capacityBytes = capacityBytes;
    this.capacityRecords = capacityRecords;
    this.gate = new WatermarkGate(highBytes, lowBytes, highRecords, lowRecords);
    this.buffers = Objects.requireNonNull(buffers, "buffers");
  }

  /**
   * Hands a chunk to the writer: {@link OfferResult.Accepted} with its sequence number,
   * {@link OfferResult.Full} when it does not fit now (the caller keeps the chunk, stops reading,
   * and offers it again from a {@link #whenResumed} callback), {@link OfferResult.Closed} or
   * {@link OfferResult.Failed}.
   */
  @Override
  public OfferResult offer(Chunk chunk) {
    OfferResult accepted;
    long room;
    lock.lock();
    try {
      if (failure != null) {
        return new OfferResult.Failed(failure);
      }
      if (closed) {
        return OfferResult.CLOSED;
      }
      if ((queuedBytes > 0 || queuedRecords > 0)
          && (queuedBytes + chunk.footprint() > capacityBytes
              || queuedRecords + chunk.records() > capacityRecords)) {
        refusedOffers.incrementAndGet();
        return OfferResult.FULL;
      }
      accepted = new OfferResult.Accepted(enqueue(chunk));
      room = capacityBytes - queuedBytes;
    } finally {
      lock.unlock();
    }
    // Idle buffers count against the capacity too: they are what the queued chunks become once
    // written. Outside the lock; a writer giving buffers back meanwhile is trimmed next time.
    long excess = buffers.idleBytes() - Math.max(0, room);
    if (excess > 0) {
      buffers.trim(excess);
    }
    return accepted;
  }

  /**
   * {@link #offer} in the older shape the gRPC path still uses: the sequence number, or
   * {@link #FULL}.
   *
   * @throws IllegalStateException if the store has failed or the queue is closed
   */
  public long tryOffer(Chunk chunk) {
    OfferResult r = offer(chunk);
    if (r instanceof OfferResult.Accepted a) {
      return a.seq();
    }
    if (r instanceof OfferResult.Full) {
      return FULL;
    }
    if (r instanceof OfferResult.Failed f) {
      throw new IllegalStateException("store failed", f.cause());
    }
    throw new IllegalStateException("ingest queue is closed");
  }

  /**
   * Accepts a chunk whatever the level. Only for shutdown, where every producer hands over the
   * one chunk it holds and then stops: the excess is bounded by one chunk per producer.
   * {@link OfferResult.Failed} if the store failed.
   */
  @Override
  public OfferResult forceOffer(Chunk chunk) {
    lock.lock();
    try {
      if (failure != null) {
        return new OfferResult.Failed(failure);
      }
      return new OfferResult.Accepted(enqueue(chunk));
    } finally {
      lock.unlock();
    }
  }

  private long enqueue(Chunk chunk) {
    long seq = ++lastSeq;
    pending.addLast(new Entry(chunk, seq));
    queuedBytes += chunk.footprint();
    queuedRecords += chunk.records();
    if (gate.update(queuedBytes, queuedRecords) == WatermarkGate.Transition.PAUSE) {
      pauses.incrementAndGet();
      log.debug("ingest paused at {} bytes, {} records", queuedBytes, queuedRecords);
    }
    notEmpty.signal();
    return seq;
  }

  @Override
  public boolean isPaused() {
    lock.lock();
    try {
      return gate.isPaused();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Runs {@code callback} once the queue is no longer paused: at once (on this thread) if it is
   * not paused now, else when the writer brings it down to the low watermark. Also released by
   * {@link #close()} so held producers can flush.
   */
  @Override
  public void whenResumed(Runnable callback) {
    lock.lock();
    try {
      if (gate.isPaused() && !closed && failure == null) {
        resumeWaiters.add(callback);
        return;
      }
    } finally {
      lock.unlock();
    }
    callback.run();
  }

  /**
   * Runs {@code callback} with {@code null} once every chunk up to {@code seq} is committed, or
   * with the store's error if it failed first.
   */
  @Override
  public void whenCommitted(long seq, Consumer<Throwable> callback) {
    Throwable err;
    lock.lock();
    try {
      err = failure;
      if (err == null && seq > committedSeq) {
        commitWaiters.add(new CommitWaiter(seq, callback));
        return;
      }
    } finally {
      lock.unlock();
    }
    callback.accept(err);
  }

  /** The sequence number of the last accepted chunk (0 if none). */
  @Override
  public long lastSeq() {
    lock.lock();
    try {
      return lastSeq;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Writer only: waits up to {@code timeout} for chunks and moves every pending one to
   * {@code out}. Returns the number moved (0 on timeout).
   */
  public int drain(List<Entry> out, long timeout, TimeUnit unit) throws InterruptedException {
    long nanos = unit.toNanos(timeout);
    lock.lock();
    try {
      while (pending.isEmpty()) {
        if (nanos <= 0 || failure != null) {
          return 0;
        }
        nanos = notEmpty.awaitNanos(nanos);
      }
      int n = pending.size();
      out.addAll(pending);
      pending.clear();
      return n;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Writer only: every chunk through {@code seq} is committed; they held {@code bytes} (sum of
   * {@link Chunk#footprint()}) and {@code records} in total. Frees that space, fires the commit and resume callbacks it allows.
   */
  public void committed(long seq, long bytes, long records) {
    List<Consumer<Throwable>> commits = new ArrayList<>();
    List<Runnable> resumes = List.of();
    lock.lock();
    try {
      committedSeq = Math.max(committedSeq, seq);
      queuedBytes -= bytes;
      queuedRecords -= records;
      while (!commitWaiters.isEmpty() && commitWaiters.peek().seq <= committedSeq) {
        commits.add(commitWaiters.poll().callback);
      }
      if (gate.update(queuedBytes, queuedRecords) == WatermarkGate.Transition.RESUME) {
        resumes = takeResumeWaiters();
      }
    } finally {
      lock.unlock();
    }
    commits.forEach(c -> runQuietly(() -> c.accept(null)));
    resumes.forEach(IngestQueue::runQuietly);
  }

  /** Writer only: the store cannot write. Every waiter and every later offer gets the error. */
  public void fail(Throwable error) {
    List<CommitWaiter> waiters;
    lock.lock();
    try {
      if (failure == null) {
        failure = error;
      }
      waiters = new ArrayList<>(commitWaiters);
      commitWaiters.clear();
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
    waiters.forEach(w -> runQuietly(() -> w.callback.accept(error)));
  }

  /**
   * Stops {@link #tryOffer} (it throws from now on) and releases held producers so they hand
   * over their chunk with {@link #forceOffer}. The writer keeps draining what was accepted.
   */
  public void close() {
    List<Runnable> resumes;
    lock.lock();
    try {
      closed = true;
      resumes = takeResumeWaiters();
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
    resumes.forEach(IngestQueue::runQuietly);
  }

  public boolean isClosed() {
    lock.lock();
    try {
      return closed;
    } finally {
      lock.unlock();
    }
  }

  /** True when nothing accepted is still waiting to be committed. */
  public boolean isIdle() {
    lock.lock();
    try {
      return committedSeq == lastSeq;
    } finally {
      lock.unlock();
    }
  }

  public long queuedBytes() {
    lock.lock();
    try {
      return queuedBytes;
    } finally {
      lock.unlock();
    }
  }

  public long queuedRecords() {
    lock.lock();
    try {
      return queuedRecords;
    } finally {
      lock.unlock();
    }
  }

  public long capacityBytes() {
    return capacityBytes;
  }

  public long capacityRecords() {
    return capacityRecords;
  }

  /** How many times the queue crossed its high watermark. */
  public long pauses() {
    return pauses.get();
  }

  /** Offers refused because the queue was at capacity. */
  public long refusedOffers() {
    return refusedOffers.get();
  }

  private List<Runnable> takeResumeWaiters() {
    List<Runnable> out = new ArrayList<>(resumeWaiters);
    resumeWaiters.clear();
    return out;
  }

  private static void runQuietly(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      log.error("ingest queue callback failed", e);
    }
  }
}
