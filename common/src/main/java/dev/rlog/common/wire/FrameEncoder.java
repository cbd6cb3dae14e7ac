package dev.rlog.common.wire;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Writes records in the wire format {@link FrameDecoder} reads: a 4-byte big-endian unsigned
 * payload length, then the payload. Every Java array fits the unsigned 32-bit length, so only
 * the receiver's cap can refuse a record. Stateless and thread-safe.
 */
public final class FrameEncoder {
  private FrameEncoder() {}

  /** Wire size of a record with {@code payloadLength} payload bytes. */
  public static int frameLength(int payloadLength) {
    if (payloadLength < 0) {
      throw new IllegalArgumentException("negative payload length " + payloadLength);
    }
    return Math.addExact(FrameDecoder.HEADER_LENGTH, payloadLength);
  }

  /** One record holding {@code payload}. */
  public static byte[] encode(byte[] payload) {
    return encode(payload, 0, payload.length);
  }

  /** One record holding {@code payload[off, off + len)}. */
  public static byte[] encode(byte[] payload, int off, int len) {
    Objects.checkFromIndexSize(off, len, payload.length);
    byte[] out = new byte[frameLength(len)];
    writeHeader(out, 0, len);
    System.arraycopy(payload, off, out, FrameDecoder.HEADER_LENGTH, len);
    return out;
  }

  /** The records holding each payload, back to back. */
  public static byte[] encodeAll(byte[]... payloads) {
    long total = 0;
    for (byte[] p : payloads) {
      total += frameLength(p.length);
    }
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("records too large for one array: " + total + " bytes");
    }
    ByteBuffer out = ByteBuffer.allocate((int) total);
    for (byte[] p : payloads) {
      writeTo(out, p, 0, p.length);
    }
    return out.array();
  }

  /** Writes the 4 header bytes for a {@code payloadLength}-byte record at {@code dst[at]}. */
  public static void writeHeader(byte[] dst, int at, int payloadLength) {
    if (payloadLength < 0) {
      throw new IllegalArgumentException("negative payload length " + payloadLength);
    }
    Objects.checkFromIndexSize(at, FrameDecoder.HEADER_LENGTH, dst.length);
    dst[at] = (byte) (payloadLength >>> 24);
    dst[at + 1] = (byte) (payloadLength >>> 16);
    dst[at + 2] = (byte) (payloadLength >>> 8);
    dst[at + 3] = (byte) payloadLength;
  }

  /**
   * Puts one record for {@code payload[off, off + len)} into {@code dst}; all or nothing.
   *
   * @throws BufferOverflowException when {@code dst} has less room than the record needs; nothing
   *     was written then
   */
  public static void writeTo(ByteBuffer dst, byte[] payload, int off, int len) {
    Objects.checkFromIndexSize(off, len, payload.length);
    if (dst.remaining() < frameLength(len)) {
      throw new BufferOverflowException();
    }
    // Byte by byte rather than putInt: the wire is big-endian whatever order dst is set to.
    dst.put((byte) (len >>> 24)).put((byte) (len >>> 16)).put((byte) (len >>> 8)).put((byte) len);
    dst.put(payload, off, len);
  }

  /** Writes one record for {@code payload} to {@code out} (two writes: header, payload). */
  public static void writeTo(OutputStream out, byte[] payload) throws IOException {
    writeTo(out, payload, 0, payload.length);
  }

  /** Writes one record for {@code payload[off, off + len)} to {@code out}. */
  public static void writeTo(OutputStream out, byte[] payload, int off, int len)
      throws IOException {
    Objects.checkFromIndexSize(off, len, payload.length);
    byte[] header = new byte[FrameDecoder.HEADER_LENGTH];
    writeHeader(header, 0, len);
    out.write(header);
    out.write(payload, off, len);
  }
}
