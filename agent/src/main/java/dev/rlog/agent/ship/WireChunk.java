package dev.rlog.agent.ship;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import dev.rlog.agent.tail.LineBatch;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;

/**
 * Lines {@code [from, to)} of a {@link LineBatch}: what one {@code log.Chunk} carries. The batch
 * is the tailer's unit (one read); a wire chunk is at most {@code maxLines} lines and {@code
 * maxBytes} bytes of it, so the collector's per-message bounds hold whatever the read held (a
 * block of one-byte lines would otherwise be a chunk of 262,144 lines). Immutable.
 *
 * <p>{@link #encode} writes the serialized {@code Chunk} by hand: the lengths go straight from
 * the batch's {@code int} array into packed varints and the data is one array copy, with no
 * message object and no boxed {@code Integer} per line.
 *
 * @param last true if this is the batch's last wire chunk (its ack releases the batch)
 */
record WireChunk(LineBatch batch, int from, int to, boolean last) {
  private static final int SEQ = 1;
  private static final int LABEL = 2;
  private static final int FILE_INSTANCE = 3;
  private static final int START_OFFSET = 4;
  private static final int DATA = 5;
  private static final int LINE_LENGTHS = 6;
  private static final int READ_AT = 7;

  /** Cuts {@code batch} into wire chunks of at most {@code maxLines} lines and about {@code maxBytes}. */
  static void split(LineBatch batch, int maxLines, int maxBytes, java.util.function.Consumer<WireChunk> out) {
    int from = 0;
    int n = batch.size();
    while (from < n) {
      int to = from + 1; // at least one line, however long
      long bytes = batch.rawLength(from);
      while (to < n && to - from < maxLines && bytes + batch.rawLength(to) <= maxBytes) {
        bytes += batch.rawLength(to);
        to++;
      }
      out.accept(new WireChunk(batch, from, to, to == n));
      from = to;
    }
  }

  int lines() {
    return to - from;
  }

  /** File offset of the first line. */
  long startOffset() {
    return batch.offset(from);
  }

  /** The position to commit once this chunk is acknowledged. */
  long endOffset() {
    return batch.end(to - 1);
  }

  /** Bytes of the file this chunk carries. */
  int dataBytes() {
    return (int) (endOffset() - startOffset());
  }

  /**
   * The serialized {@code log.Chunk} with sequence number {@code seq}: every field but the data
   * encoded into a small head (data is the last field), the data left in the batch's array, so
   * gRPC copies the file's bytes once, from there into its buffers.
   */
  Encoded encode(long seq) {
    int dataFrom = (int) (startOffset() - batch.startOffset());
    int dataLen = dataBytes();
    int packed = 0;
    for (int i = from; i < to; i++) {
      packed += CodedOutputStream.computeUInt32SizeNoTag(batch.rawLength(i));
    }
    long millis = batch.readAtMillis();
    long seconds = Math.floorDiv(millis, 1000L);
    int nanos = (int) Math.floorMod(millis, 1000L) * 1_000_000;
    int ts = (seconds != 0 ? CodedOutputStream.computeInt64Size(1, seconds) : 0)
        + (nanos != 0 ? CodedOutputStream.computeInt32Size(2, nanos) : 0);
    int head = CodedOutputStream.computeUInt64Size(SEQ, seq)
        + CodedOutputStream.computeStringSize(LABEL, batch.label())
        + CodedOutputStream.computeStringSize(FILE_INSTANCE, batch.fileInstance())
        + CodedOutputStream.computeUInt64Size(START_OFFSET, startOffset())
        + CodedOutputStream.computeTagSize(READ_AT) + CodedOutputStream.computeUInt32SizeNoTag(ts)
        + ts
        + CodedOutputStream.computeTagSize(LINE_LENGTHS)
        + CodedOutputStream.computeUInt32SizeNoTag(packed) + packed
        + CodedOutputStream.computeTagSize(DATA) + CodedOutputStream.computeUInt32SizeNoTag(dataLen);
    byte[] out = new byte[head];
    CodedOutputStream o = CodedOutputStream.newInstance(out);
    try {
      o.writeUInt64(SEQ, seq);
      o.writeString(LABEL, batch.label());
      o.writeString(FILE_INSTANCE, batch.fileInstance());
      o.writeUInt64(START_OFFSET, startOffset());
      o.writeTag(READ_AT, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      o.writeUInt32NoTag(ts);
      if (seconds != 0) {
        o.writeInt64(1, seconds);
      }
      if (nanos != 0) {
        o.writeInt32(2, nanos);
      }
      o.writeTag(LINE_LENGTHS, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      o.writeUInt32NoTag(packed);
      for (int i = from; i < to; i++) {
        o.writeUInt32NoTag(batch.rawLength(i));
      }
      o.writeTag(DATA, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      o.writeUInt32NoTag(dataLen);
      o.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new UncheckedIOException("encoding a chunk into an exactly sized array", e);
    }
    return new Encoded(out, batch.data(), dataFrom, dataLen);
  }

  /** A serialized chunk: {@code head} then {@code data[dataFrom, dataFrom+dataLen)}. */
  record Encoded(byte[] head, byte[] data, int dataFrom, int dataLen) {
    int size() {
      return head.length + dataLen;
    }

    /** One array (tests, and a transport that needs one). */
    byte[] toByteArray() {
      byte[] out = Arrays.copyOf(head, size());
      System.arraycopy(data, dataFrom, out, head.length, dataLen);
      return out;
    }

    /** The bytes as a stream gRPC drains straight into its buffers ({@link Drainable}). */
    InputStream stream() {
      return new EncodedStream(this);
    }
  }

  /** Reads an {@link Encoded}; {@link #drainTo} writes both parts without a copy of our own. */
  private static final class EncodedStream extends InputStream implements Drainable, KnownLength {
    private final Encoded e;
    private int pos;

    EncodedStream(Encoded e) {
      this.e = e;
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      int n = available();
      if (pos < e.head().length) {
        target.write(e.head(), pos, e.head().length - pos);
        pos = e.head().length;
      }
      int dataAt = pos - e.head().length;
      target.write(e.data(), e.dataFrom() + dataAt, e.dataLen() - dataAt);
      pos = e.size();
      return n;
    }

    @Override
    public int available() {
      return e.size() - pos;
    }

    @Override
    public int read() {
      if (pos >= e.size()) {
        return -1;
      }
      int b = pos < e.head().length ? e.head()[pos] : e.data()[e.dataFrom() + pos - e.head().length];
      pos++;
      return b & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (len == 0) {
        return 0;
      }
      if (pos >= e.size()) {
        return -1;
      }
      int n = 0;
      if (pos < e.head().length) {
        int k = Math.min(len, e.head().length - pos);
        System.arraycopy(e.head(), pos, b, off, k);
        pos += k;
        n += k;
      }
      if (n < len && pos < e.size()) {
        int dataAt = pos - e.head().length;
        int k = Math.min(len - n, e.dataLen() - dataAt);
        System.arraycopy(e.data(), e.dataFrom() + dataAt, b, off + n, k);
        pos += k;
        n += k;
      }
      return n;
    }
  }
}
