package dev.rlog.common.buffer;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded pool of chunk buffers: byte arrays that are filled, handed to another thread, and
 * given back once that thread is done with them, so a steady flow allocates (and zeroes, and
 * garbage-collects) almost no buffers. In the collector the encoders take the arrays they encode
 * records into and the store writer gives them back once their chunk is committed; in the agent
 * the tailer takes the arrays it copies lines into and the shipper gives them back once the
 * collector acknowledged them.
 *
 * <p><b>Bounds.</b> The pool holds at most {@code maxBytes} in at most {@code maxBuffers} idle
 * arrays; a buffer given back past either bound pushes out idle ones of the size least recently
 * used (to the garbage collector), so the pool follows the sizes in use now. Buffers below
 * {@value #MIN_POOLED_BYTES} bytes, or larger than the pool, are never kept. An owner with a
 * memory bound of its own can count the idle bytes in it and {@link #trim} the pool when the two
 * together would exceed it (the collector's ingest queue does), so the pool costs no memory
 * beyond that bound: a buffer is either in use (as before there was a pool), or idle here in
 * place of the garbage it would otherwise be.
 *
 * <p><b>Sizes.</b> {@link #take} returns a buffer of at least {@code min} and at most {@code max}
 * bytes: an idle one of the smallest size in that range, else a new one of exactly {@code min}.
 * The caller chooses how much slack it accepts; a caller whose accounting assumed {@code min}
 * bytes passes {@code max == min}. Callers that round their requests to a few sizes (see
 * {@link #sizeClass}) find them here again.
 *
 * <p><b>Ownership.</b> A buffer must be given back at most once, and only when nothing reads or
 * writes it any more: the next taker overwrites it. Contents are not cleared. A buffer given back
 * while it is still idle here fails loudly ({@link IllegalStateException}).
 *
 * <p><b>Threading.</b> Thread-safe. One lock, held for a map lookup; there is one take per read
 * or batch (hundreds of records), so it is never contended in a way that matters.
 */
public final class ChunkBufferPool {
  /** Idle bytes the {@link #shared()} pool keeps at most: the collector's default queue capacity. */
  public static final long DEFAULT_MAX_BYTES = 32L << 20;
  /** Idle buffers the {@link #shared()} pool keeps at most. */
  public static final int DEFAULT_MAX_BUFFERS = 1024;
  /** Smaller buffers cost less to allocate than to pool. */
  public static final int MIN_POOLED_BYTES = 1024;

  private static final ChunkBufferPool SHARED =
      new ChunkBufferPool(DEFAULT_MAX_BYTES, DEFAULT_MAX_BUFFERS);

  /** Idle buffers of one length, most recently given back last. */
  private static final class Bucket {
    final ArrayDeque<byte[]> buffers = new ArrayDeque<>();
    long lastUse;
  }

  private final long maxBytes;
  private final int maxBuffers;
  private final ReentrantLock lock = new ReentrantLock();
  private final TreeMap<Integer, Bucket> buckets = new TreeMap<>();
  /** The idle buffers by identity: a buffer given back twice is caught without a scan. */
  private final Set<byte[]> idle = Collections.newSetFromMap(new IdentityHashMap<>());
  private long idleBytes;
  private long uses;

  /**
   * The process-wide pool every encoder uses unless given another: one bound for the whole
   * collector ({@value #DEFAULT_MAX_BUFFERS} buffers, {@link #DEFAULT_MAX_BYTES} bytes), and
   * trimmed by the ingest queue to what its capacity leaves free.
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
    this.maxBuffers = maxBuffers;
  }

  /**
   * {@code bytes} rounded up to one of four sizes per power of two (1, 1.25, 1.5, 1.75 times
   * it): at most a quarter more, and requests of about the same size meet the same buffers.
   */
  public static int sizeClass(int bytes) {
    if (bytes <= MIN_POOLED_BYTES) {
      return Math.max(0, bytes);
    }
    int shift = 31 - Integer.numberOfLeadingZeros(bytes - 1) - 2; // quarter of the power of 2
    long step = 1L << shift;
    return (int) Math.min(Integer.MAX_VALUE - 8, ((bytes - 1L) / step + 1) * step);
  }

  /**
   * A buffer of {@code min} to {@code max} bytes: an idle one of the smallest fitting size, else
   * a new array of {@code min} bytes.
   */
  public byte[] take(int min, int max) {
    if (min < 0 || max < min) {
      throw new IllegalArgumentException("take(" + min + ", " + max + ")");
    }
    if (min >= MIN_POOLED_BYTES) {
      lock.lock();
      try {
        Map.Entry<Integer, Bucket> e = buckets.ceilingEntry(min);
        if (e != null && e.getKey() <= max) {
          Bucket b = e.getValue();
          byte[] buffer = b.buffers.pollLast(); // the most recent: likeliest still in cache
          b.lastUse = ++uses;
          if (b.buffers.isEmpty()) {
            buckets.remove(e.getKey());
          }
          idleBytes -= buffer.length;
          idle.remove(buffer);
          return buffer;
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
    if (n < MIN_POOLED_BYTES || n > maxBytes || maxBuffers == 0) {
      return;
    }
    lock.lock();
    try {
      if (idle.contains(buffer)) {
        // Two owners would overwrite each other's records: fail loudly, never corrupt.
        throw new IllegalStateException("chunk buffer given back twice");
      }
      while (idle.size() == maxBuffers || idleBytes + n > maxBytes) {
        evictOne();
      }
      Bucket b = buckets.computeIfAbsent(n, k -> new Bucket());
      b.buffers.addLast(buffer);
      idle.add(buffer);
      b.lastUse = ++uses;
      idleBytes += n;
    } finally {
      lock.unlock();
    }
  }

  /** Drops idle buffers (sizes least recently used first) until {@code bytes} are freed. */
  public void trim(long bytes) {
    lock.lock();
    try {
      long target = Math.max(0, idleBytes - bytes);
      while (idleBytes > target) {
        evictOne();
      }
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
      return idle.size();
    } finally {
      lock.unlock();
    }
  }

  public long maxBytes() {
    return maxBytes;
  }

  public int maxBuffers() {
    return maxBuffers;
  }

  /** Drops the oldest idle buffer of the least recently used size. Caller holds the lock. */
  private void evictOne() {
    Map.Entry<Integer, Bucket> lru = null;
    for (Map.Entry<Integer, Bucket> e : buckets.entrySet()) {
      if (lru == null || e.getValue().lastUse < lru.getValue().lastUse) {
        lru = e;
      }
    }
    byte[] gone = lru.getValue().buffers.pollFirst();
    if (lru.getValue().buffers.isEmpty()) {
      buckets.remove(lru.getKey());
    }
    idleBytes -= gone.length;
    idle.remove(gone);
  }
}
