package dev.rlog.collector.grpc;

import io.grpc.netty.shaded.io.netty.channel.ChannelConfig;
import io.grpc.netty.shaded.io.netty.channel.DefaultMaxMessagesRecvByteBufAllocator;

/**
 * How a gRPC connection reads its socket: reads between {@code min} and {@code max} bytes, the
 * size adapted to what arrives, and up to {@link #READS_PER_WAKEUP} reads each time the socket
 * is ready.
 *
 * <p>Why not Netty's {@code AdaptiveRecvByteBufAllocator}: a channel builds its read handle once,
 * at its first read, so replacing the allocator later (as {@link ShipWindows} does when it grants
 * a connection a wide window) changed nothing, and that allocator reads one buffer per wakeup
 * unless told otherwise. Measured 2026-11-30 with one agent shipping 3,000,000 lines: every read
 * was 8 KiB, one per {@code epoll_wait}, and the collector's HTTP/2 thread spent 0.78-0.90 us per
 * line; with 16 reads per wakeup 0.47-0.69 us, and with reads of up to 64 KiB as well 0.42-0.44.
 *
 * <p>Here the handle looks at the channel's allocator again at the start of each read loop: a
 * connection's reads grow once {@code channel.config().setRecvByteBufAllocator(reads.upTo(n))}
 * has run on it. A connection that is never widened keeps reads of at most {@code max}, which
 * bounds what a read buffer it keeps (a partial frame, a stream that is not reading) can pin.
 */
public final class ConnectionReads extends DefaultMaxMessagesRecvByteBufAllocator {
  /** Reads per socket wakeup at most (Netty's default for its own channels). */
  public static final int READS_PER_WAKEUP = 16;

  private final int min;
  private final int initial;
  private final int max;

  /**
   * @param min smallest read, bytes
   * @param initial first read of a connection, bytes
   * @param max largest read, bytes
   */
  public ConnectionReads(int min, int initial, int max) {
    super(READS_PER_WAKEUP);
    if (min < 1 || initial < min || max < initial) {
      throw new IllegalArgumentException(
          "need 1 <= min <= initial <= max, got " + min + ", " + initial + ", " + max);
    }
    this.min = min;
    this.initial = initial;
    this.max = max;
  }

  /** The same reads with a larger (or smaller) largest read: to set on a channel. */
  public ConnectionReads upTo(int newMax) {
    return new ConnectionReads(Math.min(min, newMax), Math.min(initial, newMax), newMax);
  }

  /** Largest read, bytes. */
  public int max() {
    return max;
  }

  @Override
  public Handle newHandle() {
    return new ReadHandle();
  }

  /**
   * The read size: doubled after a read that filled its buffer (more is waiting), halved after
   * two read loops in a row whose largest read took at most half of it.
   */
  private final class ReadHandle extends MaxMessageHandle {
    private int limit = max;
    private int floor = min;
    private int guess = initial;
    private int largestThisLoop;
    private boolean smallLastLoop;

    @Override
    public void reset(ChannelConfig config) {
      super.reset(config);
      // The channel's allocator now: ShipWindows may have replaced it since this handle was made.
      if (config.getRecvByteBufAllocator() instanceof ConnectionReads now) {
        limit = now.max;
        floor = now.min;
      }
      guess = Math.max(floor, Math.min(guess, limit));
      largestThisLoop = 0;
    }

    @Override
    public int guess() {
      return guess;
    }

    @Override
    public void lastBytesRead(int bytes) {
      if (bytes > 0 && bytes == attemptedBytesRead()) {
        guess = (int) Math.min(limit, 2L * guess);
      }
      largestThisLoop = Math.max(largestThisLoop, bytes);
      super.lastBytesRead(bytes);
    }

    @Override
    public void readComplete() {
      boolean small = largestThisLoop <= guess >>> 1;
      if (small && smallLastLoop) {
        guess = Math.max(floor, guess >>> 1);
        small = false;
      }
      smallLastLoop = small;
    }
  }
}
