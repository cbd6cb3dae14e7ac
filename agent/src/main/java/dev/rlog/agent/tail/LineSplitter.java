package dev.rlog.agent.tail;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Splits the bytes of one file, fed block by block in file order, into lines. Pure; one instance
 * per file instance; single-threaded (the tail thread).
 *
 * <p>Each complete line is handed to a {@link LineConsumer} as (file offset of its first byte,
 * array, start, length, file offset just after its terminator). For lines inside the fed block
 * the array is the caller's read buffer itself, so the consumer's own copy (for example into a
 * {@code ByteString}) is the only copy; only a line that spans two blocks passes through the
 * internal carry buffer. The array is valid during the callback only.
 *
 * <ul>
 *   <li>A line ends at {@code '\n'}; one {@code '\r'} right before it is stripped (CRLF). Empty
 *       lines are kept.
 *   <li>A last line without newline is held back in the carry until it is completed, or until the
 *       owner calls {@link #flushPartial} (after its configured bounded wait). A flushed partial
 *       line is emitted once, as it is; the bytes that complete it later are a line of their own
 *       (starting at the offset right after the flushed bytes). Nothing is emitted twice.
 *   <li>A line longer than {@code maxLineBytes} is cut into pieces, each emitted as a line of its
 *       own and counted in {@link #piecesCut()}. A cut is moved back (at most 3 bytes) so that it
 *       does not split a UTF-8 character. A piece is cut only once it is certain that more content
 *       follows, so where the cuts fall depends on the bytes only, never on how the file was
 *       chunked into reads: after a restart from any committed position the same lines and pieces
 *       come out at the same offsets, which the collector's offset filter relies on.
 * </ul>
 *
 * <p>Bound: the carry never holds more than {@code maxLineBytes + 2} bytes (the two bytes decide
 * whether a piece boundary is really the end of a CRLF line); it is allocated lazily and grows
 * only as a partial line needs it.
 */
public final class LineSplitter {
  public static final int DEFAULT_MAX_LINE_BYTES = 1 << 20;

  private static final int INITIAL_CARRY = 256;

  /** Receives lines; {@code bytes} is only valid during the call. */
  @FunctionalInterface
  public interface LineConsumer {
    void line(long offset, byte[] bytes, int start, int length, long end);
  }

  private final int maxLineBytes;
  private byte[] carry = new byte[0];
  private int carryLen;
  private long carryStart;
  private long nextOffset;
  private long emittedPosition;
  private long piecesCut;
  private long partialsFlushed;

  /**
   * @param startOffset file offset of the first byte that will be fed (a line start)
   */
  public LineSplitter(long startOffset, int maxLineBytes) {
    if (startOffset < 0) {
      throw new IllegalArgumentException("startOffset must be >= 0: " + startOffset);
    }
    if (maxLineBytes < 4) {
      throw new IllegalArgumentException("maxLineBytes must be >= 4: " + maxLineBytes);
    }
    this.maxLineBytes = maxLineBytes;
    this.nextOffset = startOffset;
    this.emittedPosition = startOffset;
    this.carryStart = startOffset;
  }

  /** Feeds the next {@code len} bytes of the file ({@code block[off..off+len)}). */
  public void feed(byte[] block, int off, int len, LineConsumer out) {
    if (off < 0 || len < 0 || off + len > block.length) {
      throw new IndexOutOfBoundsException("off=" + off + " len=" + len + " size=" + block.length);
    }
    final int end = off + len;
    final long base = nextOffset - off; // file offset of block[i] is base + i
    int pos = off;
    while (carryLen > 0 && pos < end) {
      int nl = indexOfNewline(block, pos, end);
      int segEnd = nl < 0 ? end : nl;
      int n = Math.min(capacity() - carryLen, segEnd - pos);
      appendToCarry(block, pos, n);
      pos += n;
      if (pos == nl) {
        emitLine(carry, 0, carryLen, carryStart, base + nl + 1, out);
        carryLen = 0;
        pos = nl + 1;
      } else {
        int s = cutPieces(carry, 0, carryLen, carryStart, out);
        System.arraycopy(carry, s, carry, 0, carryLen - s);
        carryLen -= s;
        carryStart += s;
      }
    }
    int lineStart = pos;
    int nl;
    while (lineStart < end && (nl = indexOfNewline(block, lineStart, end)) >= 0) {
      emitLine(block, lineStart, nl, base + lineStart, base + nl + 1, out);
      lineStart = nl + 1;
    }
    if (lineStart < end) {
      int s = cutPieces(block, lineStart, end, base + lineStart, out);
      carryStart = base + s;
      carryLen = 0;
      appendToCarry(block, s, end - s);
    } else if (carryLen == 0) {
      carryStart = base + end;
    }
    nextOffset += len;
  }

  /**
   * Emits the held partial line, if any, as a line of its own. The bytes that complete it later
   * form a separate line.
   *
   * @return true if a partial line was emitted
   */
  public boolean flushPartial(LineConsumer out) {
    if (carryLen == 0) {
      return false;
    }
    long end = carryStart + carryLen;
    out.line(carryStart, carry, 0, carryLen, end);
    emittedPosition = end;
    carryStart = end;
    carryLen = 0;
    partialsFlushed++;
    return true;
  }

  public boolean hasPartial() {
    return carryLen > 0;
  }

  public int partialLength() {
    return carryLen;
  }

  /** File offset where the held partial line starts, or -1 if none is held. */
  public long partialOffset() {
    return carryLen > 0 ? carryStart : -1;
  }

  /** File offset of the next byte to feed. */
  public long nextOffset() {
    return nextOffset;
  }

  /** File offset just after the last emitted line, piece or flushed partial. */
  public long emittedPosition() {
    return emittedPosition;
  }

  /** Pieces emitted because a line was longer than maxLineBytes. */
  public long piecesCut() {
    return piecesCut;
  }

  public long partialsFlushed() {
    return partialsFlushed;
  }

  public int maxLineBytes() {
    return maxLineBytes;
  }

  /** Emits the complete line a[s..nl) (nl = index of its '\n'), cutting it if too long. */
  private void emitLine(byte[] a, int s, int nl, long offset, long end, LineConsumer out) {
    int contentEnd = nl > s && a[nl - 1] == '\r' ? nl - 1 : nl;
    while (contentEnd - s > maxLineBytes) {
      int c = cutLength(a, s);
      emitPiece(a, s, c, offset, out);
      s += c;
      offset += c;
    }
    out.line(offset, a, s, contentEnd - s, end);
    emittedPosition = end;
  }

  /**
   * Emits the pieces of the unfinished line a[s..e) that are certain, returns the index of the
   * first byte not emitted. A piece is certain when content follows it: two or more bytes beyond
   * maxLineBytes, or one that is not a '\r' (which could still be the CR of a CRLF end).
   */
  private int cutPieces(byte[] a, int s, int e, long offset, LineConsumer out) {
    while (e - s >= maxLineBytes + 2 || (e - s == maxLineBytes + 1 && a[s + maxLineBytes] != '\r')) {
      int c = cutLength(a, s);
      emitPiece(a, s, c, offset, out);
      s += c;
      offset += c;
    }
    return s;
  }

  private void emitPiece(byte[] a, int s, int c, long offset, LineConsumer out) {
    out.line(offset, a, s, c, offset + c);
    emittedPosition = offset + c;
    piecesCut++;
  }

  /** maxLineBytes, moved back so the next piece does not start inside a UTF-8 character. */
  private int cutLength(byte[] a, int s) {
    int c = maxLineBytes;
    for (int back = 0; back < 3 && isContinuation(a[s + c]); back++) {
      c--;
    }
    // More than 3 continuation bytes in a row is not UTF-8; cut where the bound says.
    return isContinuation(a[s + c]) ? maxLineBytes : c;
  }

  private static boolean isContinuation(byte b) {
    return (b & 0xC0) == 0x80;
  }

  private int capacity() {
    return maxLineBytes + 2;
  }

  private void appendToCarry(byte[] src, int from, int n) {
    if (n == 0) {
      return;
    }
    int need = carryLen + n;
    if (need > carry.length) {
      int size = Math.max(INITIAL_CARRY, carry.length);
      while (size < need) {
        size = Math.min(capacity(), size * 2);
      }
      byte[] bigger = new byte[size];
      System.arraycopy(carry, 0, bigger, 0, carryLen);
      carry = bigger;
    }
    System.arraycopy(src, from, carry, carryLen, n);
    carryLen = need;
  }

  /** Reads 8 bytes of a byte[] as one little-endian long (a plain load, bounds-checked). */
  private static final VarHandle LONG =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long ONES = 0x0101010101010101L;
  private static final long HIGHS = 0x8080808080808080L;
  private static final long NEWLINES = ONES * '\n';

  /**
   * The index of the first '\n' in a[from, to), or -1: eight bytes at a time (a word with a
   * newline has a zero byte once XOR-ed with eight newlines; the lowest flagged byte is exact),
   * then byte by byte for the tail.
   */
  private static int indexOfNewline(byte[] a, int from, int to) {
    int i = from;
    for (; to - i >= 8; i += 8) {
      long x = (long) LONG.get(a, i) ^ NEWLINES;
      long zero = (x - ONES) & ~x & HIGHS;
      if (zero != 0) {
        return i + (Long.numberOfTrailingZeros(zero) >>> 3);
      }
    }
    for (; i < to; i++) {
      if (a[i] == '\n') {
        return i;
      }
    }
    return -1;
  }
}
