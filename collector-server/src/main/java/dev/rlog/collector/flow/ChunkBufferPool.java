package dev.rlog.collector.flow;

import java.util.concurrent.locks.ReentrantLock;

/**
 * A small bounded pool of chunk buffers: encoders take the byte arrays they encode records into
 * from here, and the store writer gives them back once their chunk is committed, so ingest at a
 * steady rate allocates (and zeroes, and garbage-collects) almost no buffers.
 *
 * <p><b>Bounds.</b> The pool holds at most {@code maxBytes} in at most {@code maxBuffers} idle
 * arrays; a buffer given back past either bound pushes the oldest idle ones out (to the garbage
 * collector), so the pool follows the sizes in use now. That is the whole extra memory it costs:
 * a buffer that is taken is counted where it goes (the ingest queue counts a chunk's whole
 * buffer, see {@link Chunk#footprint()}), as it was before there was a pool. Buffers below
 * {@value #MIN_POOLED_BYTES} bytes, or larger than the pool, are never kept.
 *
 * <p><b>Sizes.</b> {@link #take} returns a buffer of at least {@code min} and at most {@code max}
 * bytes: the smallest idle one in that range, else a new one of exactly {@code min}. The caller
 * chooses how much slack it accepts; a caller whose accounting assumed {@code min} bytes passes
 * {@code max == min}.
 *
 * <p><b>Ownership.</b> A buffer must be given back at most once, and only when nothing reads or
 * writes it any more: the next taker overwrites it. Contents are not cleared.
 *
 * <p><b>Threading.</b> Thread-safe: event loops and gRPC threads take, the store writer gives
 * back. One lock, held for a scan of at most {@code maxBuffers} entries; there is one take per
 * read or batch (hundreds of records), so it is never contended in a way that matters.
 */
public final class ChunkBufferPool {
  /** Idle bytes the {@link #shared()} pool keeps at most. */
  public static final long DEFAULT_MAX_BYTES = 4L << 20;
  /** Idle buffers the {@link #shared()} pool keeps at most. */
  public static final int DEFAULT_MAX_BUFFERS = 32;
  /** Smaller buffers cost less to allocate than to pool. */
  public static final int MIN_POOLED_BYTES = 1024;

  private static final ChunkBufferPool SHARED =
      new ChunkBufferPool(DEFAULT_MAX_BYTES, DEFAULT_MAX_BUFFERS);

  private final long maxBytes;
  private final ReentrantLock lock = new ReentrantLock();
  /** Idle buffers in {@code idle[0, count)}, oldest first. */
  private final byte[][] idle;
  private int count;
  private long idleBytes;

  /**
   * The process-wide pool every encoder uses unless given another: one bound for the whole
   * collector ({@value #DEFAULT_MAX_BUFFERS} buffers, {@link #DEFAULT_MAX_BYTES} bytes).
   */
  public static ChunkBufferPool shared() {
    return SHARED;
  }

  public ChunkBufferPool(long maxBytes, int maxBuffers) {
    if (maxBytes < 0 || maxBuffers < 0) {
      throw new IllegalArgumentException("pool bounds must be >= 0, got " + maxBytes + " bytes, "
          + maxBuffers + " buffers");
    }
    this.maxBytes = maxBytes;
    this.idle = new byte[maxBuffers][];
  }

  /**
   * A buffer of {@code min} to {@code max} bytes: the smallest idle one that fits, else a new
   * array of {@code min} bytes.
   */
  public byte[] take(int min, int max) {
    if (min < 0 || max < min) {
      throw new IllegalArgumentException("take(" + min + ", " + max + ")");
    }
    if (min >= MIN_POOLED_BYTES) {
      lock.lock();
      try {
        int best = -1;
        for (int i = count - 1; i >= 0; i--) { // newest first: most likely still in cache
          int n = idle[i].length;
          if (n >= min && n <= max && (best < 0 || n < idle[best].length)) {
            best = i;
            if (n == min) {
              break;
            }
          }
        }
        if (best >= 0) {
          return remove(best);
        }
      } finally {
        lock.unlock();
      }
    }
    return new byte[min];
  }

  /** Gives a buffer back; it may be handed to the next {@link #take}. */
  public void release(byte[] buffer) {
    int n = buffer.length;
    if (n < MIN_POOLED_BYTES || n > maxBytes || idle.length == 0) {
      return;
    }
    lock.lock();
    try {
      for (int i = 0; i < count; i++) {
        if (idle[i] == buffer) {
          // Two owners would overwrite each other's records: fail loudly, never corrupt.
          throw new IllegalStateException("chunk buffer given back twice");
        }
      }
      while (count == idle.length || idleBytes + n > maxBytes) {
        remove(0); // the oldest: sizes nobody asked for lately leave first
      }
      idle[count++] = buffer;
      idleBytes += n;
    } finally {
      lock.unlock();
    }
  }

  /** Bytes of the idle buffers held now. */
  public long idleBytes() {
    lock.lock();
    try {
      return idleBytes;
    } finally {
      lock.unlock();
    }
  }

  /** Idle buffers held now. */
  public int idleBuffers() {
    lock.lock();
    try {
      return count;
    } finally {
      lock.unlock();
    }
  }

  public long maxBytes() {
    return maxBytes;
  }

  public int maxBuffers() {
    return idle.length;
  }

  private byte[] remove(int i) {
    byte[] b = idle[i];
    System.arraycopy(idle, i + 1, idle, i, count - i - 1);
    idle[--count] = null;
    idleBytes -= b.length;
    return b;
  }
}
