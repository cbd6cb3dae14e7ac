package dev.rlog.agent.ship;

import com.google.protobuf.CodedOutputStream;
import dev.rlog.agent.tail.LineBatch;
import java.io.IOException;
import java.io.UncheckedIOException;

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

  /** The serialized {@code log.Chunk} with sequence number {@code seq}. */
  byte[] encode(long seq) {
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
    int size = CodedOutputStream.computeUInt64Size(SEQ, seq)
        + CodedOutputStream.computeStringSize(LABEL, batch.label())
        + CodedOutputStream.computeStringSize(FILE_INSTANCE, batch.fileInstance())
        + CodedOutputStream.computeUInt64Size(START_OFFSET, startOffset())
        + CodedOutputStream.computeTagSize(READ_AT) + CodedOutputStream.computeUInt32SizeNoTag(ts)
        + ts
        + CodedOutputStream.computeTagSize(LINE_LENGTHS)
        + CodedOutputStream.computeUInt32SizeNoTag(packed) + packed
        + CodedOutputStream.computeTagSize(DATA) + CodedOutputStream.computeUInt32SizeNoTag(dataLen)
        + dataLen;
    byte[] out = new byte[size];
    CodedOutputStream o = CodedOutputStream.newInstance(out);
    try {
      o.writeUInt64(SEQ, seq);
      o.writeString(LABEL, batch.label());
      o.writeString(FILE_INSTANCE, batch.fileInstance());
      o.writeUInt64(START_OFFSET, startOffset());
      o.writeTag(READ_AT, com.google.protobuf.WireFormat.WIRETYPE_LENGTH_DELIMITED);
      o.writeUInt32NoTag(ts);
      if (seconds != 0) {
        o.writeInt64(1, seconds);
      }
      if (nanos != 0) {
        o.writeInt32(2, nanos);
      }
      o.writeTag(LINE_LENGTHS, com.google.protobuf.WireFormat.WIRETYPE_LENGTH_DELIMITED);
      o.writeUInt32NoTag(packed);
      for (int i = from; i < to; i++) {
        o.writeUInt32NoTag(batch.rawLength(i));
      }
      o.writeByteArray(DATA, batch.data(), dataFrom, dataLen);
      o.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new UncheckedIOException("encoding a chunk into an exactly sized array", e);
    }
    return out;
  }
}
