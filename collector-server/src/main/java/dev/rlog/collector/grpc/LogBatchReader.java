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
public final class LogBatchReader extends WireReader {

  // The current Log, valid after next() returned true.
  private int labelOff;
  private int labelLen;
  private int lineOff;
  private int lineLen;
  private boolean hasTimestamp;
  private int fidOff;
  private int fidLen;
  private long offset;

  public LogBatchReader reset(byte[] message, int off, int len) {
    setInput(message, off, len);
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
    clearTimestamp();
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
