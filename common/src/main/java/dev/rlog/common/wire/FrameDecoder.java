package dev.rlog.common.wire;

import java.util.Arrays;
import java.util.Objects;

/**
 * Incremental decoder of the length-prefixed record stream (one instance per connection):
 *
 * <pre>
 *  0        1        2        3        4                      4+N
 * +--------+--------+--------+--------+--------------------- ... -+
 * |  N (unsigned 32-bit, big-endian)  |  N payload bytes          |   repeated
 * +--------+--------+--------+--------+--------------------- ... -+
 * </pre>
 *
 * <p>Feed it the bytes of a stream in whatever pieces they arrive; it calls the {@link FrameSink}
 * once per whole record, in order, and nothing for an incomplete one. {@code N = 0} is a valid
 * empty record.
 *
 * <p><b>Copies.</b> A record lying wholly inside one input is passed as a view of that input
 * (no copy), even when its header came in an earlier input. Only a payload split across inputs is
 * accumulated in an internal buffer.
 *
 * <p><b>Bounds.</b> {@code N} is checked against {@code maxFrameLength} as soon as the fourth
 * header byte is seen, before anything is allocated for the payload; {@code N} above the cap
 * (including values of 2^31 and more, which do not fit an {@code int}) throws
 * {@link FrameTooLargeException}. The internal buffer grows with the bytes actually received (at
 * most twice them, never above the declared {@code N}), so a peer that declares a large record
 * and then stalls holds only what it sent; it is released as soon as the record is complete, so
 * an idle decoder holds just its 4-byte header array.
 *
 * <p><b>After an exception</b> (an oversized length, or anything thrown by the sink) the decoder
 * is unusable: every later {@link #decode} throws {@link IllegalStateException}. The stream has no
 * marker to resynchronise on, so the caller closes the connection. Records before the bad header
 * in the same input were already delivered to the sink.
 *
 * <p><b>Threading.</b> Not thread-safe and not re-entrant (a sink must not call back into the
 * same decoder): one owner thread, such as a connection's event loop.
 */
public final class FrameDecoder {
  /** Bytes in a record header. */
  public static final int HEADER_LENGTH = 4;

  /** The largest cap accepted: about the largest array a JVM allocates. */
  public static final int MAX_FRAME_LENGTH_LIMIT = Integer.MAX_VALUE - 8;

  /** First allocation for a split payload, so tiny records do not grow byte by byte. */
  private static final int MIN_PARTIAL_CAPACITY = 256;

  private static final byte[] EMPTY = new byte[0];

  private final int maxFrameLength;

  private final byte[] header = new byte[HEADER_LENGTH];
  /** Bytes of the current header held, 0 to 4; 4 means {@link #payloadLength} is valid. */
  private int headerFill;
  private int payloadLength;
  /** Payload bytes of a split record received so far, in {@code partial[0, partialFill)}. */
  private byte[] partial = EMPTY;
  private int partialFill;
  /** Set while decoding; left set when an exception escapes, which makes the decoder unusable. */
  private boolean unusable;

  /**
   * @param maxFrameLength the largest payload accepted, 0 to {@link #MAX_FRAME_LENGTH_LIMIT}
   */
  public FrameDecoder(int maxFrameLength) {
    if (maxFrameLength < 0 || maxFrameLength > MAX_FRAME_LENGTH_LIMIT) {
      throw new IllegalArgumentException("maxFrameLength must be 0.." + MAX_FRAME_LENGTH_LIMIT
          + ", got " + maxFrameLength);
    }
    this.maxFrameLength = maxFrameLength;
  }

  public int maxFrameLength() {
    return maxFrameLength;
  }

  /**
   * Decodes {@code in[off, off + len)}, the next bytes of the stream, calling {@code sink} for
   * every record completed by them.
   *
   * @throws FrameTooLargeException when a header declares more than the cap; records before it
   *     were delivered, and the decoder is unusable from now on
   * @throws IllegalStateException when an earlier call threw
   * @throws IndexOutOfBoundsException when {@code off}/{@code len} lie outside {@code in}
   */
  public void decode(byte[] in, int off, int len, FrameSink sink) {
    Objects.checkFromIndexSize(off, len, in.length);
    Objects.requireNonNull(sink, "sink");
    if (unusable) {
      throw new IllegalStateException(
          "frame decoder is unusable after an earlier error (or was re-entered)");
    }
    unusable = true;
    int pos = off;
    int end = off + len;
    if (headerFill > 0) {
      pos = continuePending(in, pos, end, sink);
    }
    // Whatever continuePending left undone, it consumed the whole input, so from here on every
    // record starts inside this input.
    while (pos < end) {
      int avail = end - pos;
      if (avail < HEADER_LENGTH) {
        System.arraycopy(in, pos, header, 0, avail);
        headerFill = avail;
        break;
      }
      int length = checkedLength(in, pos);
      pos += HEADER_LENGTH;
      if (end - pos >= length) {
        sink.frame(in, pos, length);
        pos += length;
      } else {
        headerFill = HEADER_LENGTH;
        payloadLength = length;
        appendPartial(in, pos, end - pos);
        break;
      }
    }
    unusable = false;
  }

  /**
   * Bytes of an incomplete record held: header bytes plus payload bytes received so far. Non-zero
   * when the peer closes means those bytes can never form a record (count them, drop them).
   * Zero after a {@link FrameTooLargeException}: the oversized record is accounted for by that.
   */
  public int bufferedBytes() {
    return headerFill + partialFill;
  }

  /** Continues a record started in an earlier input; returns the new position in {@code in}. */
  private int continuePending(byte[] in, int pos, int end, FrameSink sink) {
    if (headerFill < HEADER_LENGTH) {
      int take = Math.min(HEADER_LENGTH - headerFill, end - pos);
      System.arraycopy(in, pos, header, headerFill, take);
      headerFill += take;
      pos += take;
      if (headerFill < HEADER_LENGTH) {
        return pos;
      }
      int length = checkedLength(header, 0);
      if (end - pos >= length) {
        // Only the header was split: the payload is whole here, so pass a view, copy nothing.
        headerFill = 0;
        sink.frame(in, pos, length);
        return pos + length;
      }
      payloadLength = length;
      appendPartial(in, pos, end - pos);
      return end;
    }
    int take = Math.min(payloadLength - partialFill, end - pos);
    appendPartial(in, pos, take);
    pos += take;
    if (partialFill == payloadLength) {
      byte[] whole = partial;
      int length = payloadLength;
      // Reset first (and drop the buffer: an idle connection should hold nothing).
      headerFill = 0;
      partial = EMPTY;
      partialFill = 0;
      sink.frame(whole, 0, length);
    }
    return pos;
  }

  private void appendPartial(byte[] in, int pos, int n) {
    int required = partialFill + n;
    if (partial.length < required) {
      // Grow with what arrived, not with what was declared: a stalled peer holds only its bytes.
      int capacity = (int) Math.min(payloadLength,
          Math.max((long) required, Math.max(2L * partial.length, MIN_PARTIAL_CAPACITY)));
      partial = Arrays.copyOf(partial, capacity);
    }
    System.arraycopy(in, pos, partial, partialFill, n);
    partialFill = required;
  }

  /** Reads the unsigned length at {@code buf[at]} and checks it against the cap. */
  private int checkedLength(byte[] buf, int at) {
    long length = ((buf[at] & 0xffL) << 24)
        | ((buf[at + 1] & 0xffL) << 16)
        | ((buf[at + 2] & 0xffL) << 8)
        | (buf[at + 3] & 0xffL);
    if (length > maxFrameLength) {
      headerFill = 0;
      partial = EMPTY;
      partialFill = 0;
      throw new FrameTooLargeException(length, maxFrameLength);
    }
    return (int) length;
  }
}
