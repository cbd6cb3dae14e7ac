package dev.rlog.collector.grpc;

import java.nio.charset.StandardCharsets;

/**
 * Reads the {@code Log} entries of a serialized {@code log.LogBatch} straight from its bytes,
 * without building protobuf message objects: the line bytes are handed out as ranges of the
 * message buffer, so they are copied only once, into the store record.
 *
 * <pre>
 * LogBatch: 1 batch_id (bytes)  2 send_at (Timestamp)  3 logs (repeated Log, length-delimited)
 * Log:      1 label (bytes)     2 line (bytes)          3 timestamp (Timestamp)
 *           4 file_instance (bytes)  5 offset (varint)
 * Timestamp: 1 seconds (varint, int64)  2 nanos (varint, int32)
 * </pre>
 *
 * <p>Protobuf rules that matter here: fields may come in any order and more than once (the last
 * scalar wins; a repeated message field merges), unknown fields of any wire type are skipped so
 * newer senders still work. Malformed input throws {@link MalformedBatchException}.
 *
 * <p>Not thread-safe; one reader per call. Reusable: {@link #reset} for the next message.
 */
public final class LogBatchReader {
  private static final int WT_VARINT = 0;
  private static final int WT_FIXED64 = 1;
  private static final int WT_LEN = 2;
  private static final int WT_FIXED32 = 5;

  private byte[] buf;
  private int pos;
  private int end;

  // The current Log, valid after next() returned true.
  private int labelOff;
  private int labelLen;
  private int lineOff;
  private int lineLen;
  private boolean hasTimestamp;
  private long seconds;
  private int nanos;
  private int fidOff;
  private int fidLen;
  private long offset;

  /** Thrown for bytes that are not a well-formed LogBatch. */
  public static final class MalformedBatchException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    MalformedBatchException(String message) {
      super(message);
    }
  }

  public LogBatchReader reset(byte[] message, int off, int len) {
    this.buf = message;
    this.pos = off;
    this.end = off + len;
    return this;
  }

  /** Advances to the next Log of the batch; false when there is none left. */
  public boolean next() {
    while (pos < end) {
      int tag = readVarint32();
      int field = tag >>> 3;
      int wireType = tag & 7;
      if (field == 3 && wireType == WT_LEN) {
        int len = readLength();
        int from = pos;
        readLog(from, from + len);
        pos = from + len;
        return true;
      }
      skip(wireType);
    }
    return false;
  }

  private void readLog(int from, int to) {
    labelOff = lineOff = fidOff = from;
    labelLen = lineLen = fidLen = 0;
    hasTimestamp = false;
    seconds = 0;
    nanos = 0;
    offset = 0;
    int outerEnd = end;
    end = to;
    pos = from;
    try {
      while (pos < end) {
        int tag = readVarint32();
        int field = tag >>> 3;
        int wireType = tag & 7;
        if (wireType == WT_LEN && (field == 1 || field == 2 || field == 4)) {
          int len = readLength();
          if (field == 1) {
            labelOff = pos;
            labelLen = len;
          } else if (field == 2) {
            lineOff = pos;
            lineLen = len;
          } else {
            fidOff = pos;
            fidLen = len;
          }
          pos += len;
        } else if (field == 3 && wireType == WT_LEN) {
          int len = readLength();
          readTimestamp(pos + len);
          hasTimestamp = true;
        } else if (field == 5 && wireType == WT_VARINT) {
          offset = readVarint64();
        } else {
          skip(wireType);
        }
      }
    } finally {
      end = outerEnd;
    }
  }

  private void readTimestamp(int to) {
    while (pos < to) {
      int tag = readVarint32();
      int field = tag >>> 3;
      int wireType = tag & 7;
      if (field == 1 && wireType == WT_VARINT) {
        seconds = readVarint64();
      } else if (field == 2 && wireType == WT_VARINT) {
        nanos = (int) readVarint64();
      } else {
        skip(wireType);
      }
    }
    if (pos != to) {
      throw new MalformedBatchException("timestamp overruns its length");
    }
  }

  private void skip(int wireType) {
    switch (wireType) {
      case WT_VARINT -> readVarint64();
      case WT_FIXED64 -> advance(8);
      case WT_LEN -> advance(readLength());
      case WT_FIXED32 -> advance(4);
      default -> throw new MalformedBatchException("unsupported wire type " + wireType);
    }
  }

  private void advance(int n) {
    if (n > end - pos) {
      throw new MalformedBatchException("field overruns the message");
    }
    pos += n;
  }

  private int readLength() {
    long len = readVarint64();
    if (len < 0 || len > end - pos) {
      throw new MalformedBatchException("length " + len + " overruns the message");
    }
    return (int) len;
  }

  private int readVarint32() {
    long v = readVarint64();
    if (v == 0) {
      throw new MalformedBatchException("field number 0");
    }
    return (int) v;
  }

  private long readVarint64() {
    long result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= end) {
        throw new MalformedBatchException("truncated varint");
      }
      byte b = buf[pos++];
      result |= (long) (b & 0x7f) << shift;
      if (b >= 0) {
        return result;
      }
    }
    throw new MalformedBatchException("varint longer than 10 bytes");
  }

  public byte[] buffer() {
    return buf;
  }

  public int labelOffset() {
    return labelOff;
  }

  public int labelLength() {
    return labelLen;
  }

  public int lineOffset() {
    return lineOff;
  }

  public int lineLength() {
    return lineLen;
  }

  public boolean hasTimestamp() {
    return hasTimestamp;
  }

  public long seconds() {
    return seconds;
  }

  public int nanos() {
    return nanos;
  }

  public boolean hasFileInstance() {
    return fidLen > 0;
  }

  public int fileInstanceOffset() {
    return fidOff;
  }

  public int fileInstanceLength() {
    return fidLen;
  }

  /** The line's byte offset in its file instance (uint64 on the wire). */
  public long offset() {
    return offset;
  }

  /** Label as a String; allocates, for tests and rare paths. */
  public String label() {
    return new String(buf, labelOff, labelLen, StandardCharsets.UTF_8);
  }

  public String line() {
    return new String(buf, lineOff, lineLen, StandardCharsets.UTF_8);
  }

  public String fileInstance() {
    return new String(buf, fidOff, fidLen, StandardCharsets.UTF_8);
  }
}
