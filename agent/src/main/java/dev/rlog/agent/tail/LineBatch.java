package dev.rlog.agent.tail;

import com.google.protobuf.ByteString;
import java.util.Arrays;

/**
 * Complete lines read in one go from one file instance, in file order. Immutable once built; safe
 * to hand to another thread.
 *
 * <p>For line {@code i}: {@link #offset(int)} is the file offset of its first byte (sent as
 * {@code Log.offset}), {@link #line(int)} its bytes without the line terminator (made with one
 * copy out of the read buffer), {@link #end(int)} the offset just after its terminator — the
 * position to commit once this line and every earlier line of the instance are acknowledged.
 */
public final class LineBatch {
  private final String label;
  private final String fileInstance;
  private final String path;
  private final long readAtMillis;
  private final long[] offsets;
  private final long[] ends;
  private final ByteString[] lines;
  private final int size;
  private final long bytes;

  private LineBatch(Builder b) {
    this.label = b.label;
    this.fileInstance = b.fileInstance;
    this.path = b.path;
    this.readAtMillis = b.readAtMillis;
    this.offsets = b.offsets;
    this.ends = b.ends;
    this.lines = b.lines;
    this.size = b.size;
    this.bytes = b.bytes;
  }

  public String label() {
    return label;
  }

  /** The wire id of the file instance ({@code Log.file_instance}). */
  public String fileInstance() {
    return fileInstance;
  }

  /** Where the file was when read; for logs and metrics only. */
  public String path() {
    return path;
  }

  /** Wall-clock time of the read, a fallback timestamp for lines that carry none. */
  public long readAtMillis() {
    return readAtMillis;
  }

  public int size() {
    return size;
  }

  public long offset(int i) {
    check(i);
    return offsets[i];
  }

  public long end(int i) {
    check(i);
    return ends[i];
  }

  public ByteString line(int i) {
    check(i);
    return lines[i];
  }

  /** The position after the last line: commit it when the whole batch is acknowledged. */
  public long endPosition() {
    return ends[size - 1];
  }

  /** Sum of the line lengths (terminators excluded). */
  public long byteCount() {
    return bytes;
  }

  private void check(int i) {
    if (i < 0 || i >= size) {
      throw new IndexOutOfBoundsException("line " + i + " of " + size);
    }
  }

  @Override
  public String toString() {
    return "LineBatch[" + label + " " + fileInstance + " lines=" + size + " end="
        + (size == 0 ? "-" : ends[size - 1]) + "]";
  }

  /**
   * Collects lines from a {@link LineSplitter}; one builder per file, reused across batches.
   * Single-threaded.
   */
  public static final class Builder implements LineSplitter.LineConsumer {
    private static final int INITIAL = 64;

    private final String label;
    private final String fileInstance;
    private String path;
    private long readAtMillis;
    private long[] offsets;
    private long[] ends;
    private ByteString[] lines;
    private int size;
    private long bytes;

    public Builder(String label, String fileInstance, String path) {
      this.label = label;
      this.fileInstance = fileInstance;
      this.path = path;
      reset();
    }

    public Builder path(String path) {
      this.path = path;
      return this;
    }

    public Builder readAtMillis(long millis) {
      this.readAtMillis = millis;
      return this;
    }

    @Override
    public void line(long offset, byte[] bytes, int start, int length, long end) {
      if (size == offsets.length) {
        int n = size * 2;
        offsets = Arrays.copyOf(offsets, n);
        ends = Arrays.copyOf(ends, n);
        lines = Arrays.copyOf(lines, n);
      }
      offsets[size] = offset;
      ends[size] = end;
      lines[size] = ByteString.copyFrom(bytes, start, length);
      this.bytes += length;
      size++;
    }

    public int size() {
      return size;
    }

    public boolean isEmpty() {
      return size == 0;
    }

    /** The collected lines as a batch; the builder starts over. */
    public LineBatch build() {
      if (size == 0) {
        throw new IllegalStateException("empty batch");
      }
      LineBatch b = new LineBatch(this);
      reset();
      return b;
    }

    private void reset() {
      offsets = new long[INITIAL];
      ends = new long[INITIAL];
      lines = new ByteString[INITIAL];
      size = 0;
      bytes = 0;
    }
  }
}
