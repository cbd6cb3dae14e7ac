package dev.rlog.collector.grpc;

/**
 * The protobuf wire-format primitives shared by the collector's readers of serialized messages
 * ({@link LogBatchReader}, {@link ChunkReader}): varints, lengths, skipping unknown fields and a
 * nested {@code google.protobuf.Timestamp}, all bounds-checked against the current message end.
 * Malformed input throws {@link MalformedBatchException}. Not thread-safe.
 */
abstract class WireReader {
  static final int WT_VARINT = 0;
  static final int WT_FIXED64 = 1;
  static final int WT_LEN = 2;
  static final int WT_FIXED32 = 5;

  /** Thrown for bytes that are not a well-formed message of the expected type. */
  public static final class MalformedBatchException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    MalformedBatchException(String message) {
      super(message);
    }
  }

  byte[] buf;
  int pos;
  int end;

  // The last Timestamp read by readTimestamp.
  long seconds;
  int nanos;

  final void setInput(byte[] message, int off, int len) {
    this.buf = message;
    this.pos = off;
    this.end = off + len;
  }

  final void clearTimestamp() {
    seconds = 0;
    nanos = 0;
  }

  final void readTimestamp(int to) {
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

  final void skip(int wireType) {
    switch (wireType) {
      case WT_VARINT -> readVarint64();
      case WT_FIXED64 -> advance(8);
      case WT_LEN -> advance(readLength());
      case WT_FIXED32 -> advance(4);
      default -> throw new MalformedBatchException("unsupported wire type " + wireType);
    }
  }

  final void advance(int n) {
    if (n > end - pos) {
      throw new MalformedBatchException("field overruns the message");
    }
    pos += n;
  }

  final int readLength() {
    long len = readVarint64();
    if (len < 0 || len > end - pos) {
      throw new MalformedBatchException("length " + len + " overruns the message");
    }
    return (int) len;
  }

  final int readVarint32() {
    long v = readVarint64();
    if (v == 0) {
      throw new MalformedBatchException("field number 0");
    }
    return (int) v;
  }

  final long readVarint64() {
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

}
