package dev.rlog.collector.store;

import dev.rlog.collector.flow.Chunk;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * Encodes store records as JSON Lines into one growing buffer that becomes a {@link Chunk}.
 *
 * <pre>
 * tcp:  {"recv":"2026-11-21T22:01:27.123Z","src":"tcp","peer":"127.0.0.1:5555","payload":"..."}
 *       (or "payload_b64":"..." when the payload bytes are not valid UTF-8: lossless)
 * grpc: {"recv":"...","src":"grpc","project":"web","agent":"uuid","host":"h1","label":"app",
 *        "ts":"2026-11-21T22:01:27.123456789Z","fid":"...","off":123,"line":"..."}
 *       ("ts" absent when the line had no timestamp; "fid"/"off" absent without a position)
 * </pre>
 *
 * <p>Byte strings are escaped straight from their UTF-8 bytes (no decoding to {@code String}):
 * quote, backslash and control characters are escaped, everything else is copied. The hot path
 * allocates nothing per record; the receive time is formatted once per millisecond.
 *
 * <p>Not thread-safe: one encoder per producer (connection or call).
 */
public final class JsonLinesEncoder {
  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
  /** 0: copy as is; 1: needs an escape; 2: start of a multi-byte UTF-8 sequence. */
  private static final byte[] CLASS = new byte[256];

  static {
    for (int i = 0; i < 0x20; i++) {
      CLASS[i] = 1;
    }
    CLASS['"'] = 1;
    CLASS['\\'] = 1;
    for (int i = 0x80; i < 256; i++) {
      CLASS[i] = 2;
    }
  }

  private static final byte[] RECV = ascii("{\"recv\":\"");
  private static final byte[] TCP_PEER = ascii("\",\"src\":\"tcp\",\"peer\":");
  private static final byte[] PAYLOAD = ascii(",\"payload\":\"");
  private static final byte[] PAYLOAD_B64 = ascii(",\"payload_b64\":\"");
  private static final byte[] GRPC = ascii("\",\"src\":\"grpc\"");
  private static final byte[] LABEL = ascii(",\"label\":");
  private static final byte[] TS = ascii(",\"ts\":\"");
  private static final byte[] FID = ascii(",\"fid\":");
  private static final byte[] OFF = ascii(",\"off\":");
  private static final byte[] LINE = ascii(",\"line\":\"");
  private static final byte[] END = ascii("\"}\n");

  private static final byte[] EMPTY = new byte[0];

  private final int initialCapacity;
  private byte[] buf;
  private int pos;
  private int records;

  private long recvMillis = Long.MIN_VALUE;
  private static final int RECV_TEXT_LENGTH = 24;
  private final byte[] recvText = new byte[RECV_TEXT_LENGTH];
  private final TimestampFormatter tsFormatter = new TimestampFormatter();

  public JsonLinesEncoder() {
    this(64 * 1024);
  }

  /**
   * @param initialCapacity the first allocation of a chunk's buffer; the buffer is allocated
   *     lazily, so an idle producer holds no buffer at all
   */
  public JsonLinesEncoder(int initialCapacity) {
    this.initialCapacity = Math.max(256, initialCapacity);
    this.buf = EMPTY;
  }

  /** Makes room for about {@code bytes} more encoded bytes in one allocation. */
  public void reserve(int bytes) {
    ensure(bytes);
  }

  /** Sets the receive time stamped on the records that follow. */
  public void receiveTime(long epochMillis) {
    if (epochMillis != recvMillis) {
      recvMillis = epochMillis;
      int n = TimestampFormatter.formatMillis(epochMillis, recvText, 0);
      assert n == recvText.length;
    }
  }

  /** The JSON string (with quotes) of {@code s}; for values a caller reuses across records. */
  public static byte[] quote(String s) {
    byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[utf8.length * 6 + 2];
    int n = 0;
    out[n++] = '"';
    n = escape(utf8, 0, utf8.length, out, n);
    // String.getBytes replaced unpaired surrogates, so the bytes are always valid UTF-8.
    out[n++] = '"';
    return Arrays.copyOf(out, n);
  }

  /** The {@code ,"project":..,"agent":..,"host":..} run shared by every line of one agent. */
  public static byte[] grpcAgentFields(String project, String agentUuid, String hostname) {
    String s = ",\"project\":" + new String(quote(project), StandardCharsets.UTF_8)
        + ",\"agent\":" + new String(quote(agentUuid), StandardCharsets.UTF_8)
        + ",\"host\":" + new String(quote(hostname), StandardCharsets.UTF_8);
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Appends one TCP record for {@code payload[off, off+len)}. */
  public void tcpRecord(byte[] quotedPeer, byte[] payload, int off, int len) {
    int escaped = escapedLength(payload, off, len);
    int body = escaped >= 0 ? escaped : (len + 2) / 3 * 4;
    ensure(RECV.length + recvText.length + TCP_PEER.length + quotedPeer.length
        + PAYLOAD_B64.length + body + END.length);
    put(RECV);
    put(recvText);
    put(TCP_PEER);
    put(quotedPeer);
    if (escaped >= 0) {
      put(PAYLOAD);
      putEscaped(payload, off, len, escaped);
    } else {
      put(PAYLOAD_B64);
      put(Base64.getEncoder().encode(Arrays.copyOfRange(payload, off, off + len)));
    }
    put(END);
    records++;
  }

  /**
   * Appends one gRPC record whose line is {@code line[off, off+len)} (UTF-8 by contract).
   *
   * @param agentFields from {@link #grpcAgentFields}
   * @param quotedLabel from {@link #quote}
   * @param quotedFid from {@link #quote}, or {@code null} when the line carries no position
   */
  public void grpcRecord(
      byte[] agentFields, byte[] quotedLabel, boolean hasTs, long tsSeconds, int tsNanos,
      byte[] quotedFid, long offset, byte[] line, int off, int len) {
    int escaped = escapedLength(line, off, len);
    ensure(grpcRecordBound(agentFields.length, quotedLabel.length,
        quotedFid == null ? 0 : quotedFid.length, escaped >= 0 ? escaped : len * 3));
    put(RECV);
    put(recvText);
    put(GRPC);
    put(agentFields);
    put(LABEL);
    put(quotedLabel);
    if (hasTs) {
      put(TS);
      pos = tsFormatter.format(tsSeconds, tsNanos, buf, pos);
      buf[pos++] = '"';
    }
    if (quotedFid != null) {
      put(FID);
      put(quotedFid);
      put(OFF);
      pos = putLong(offset, buf, pos);
    }
    put(LINE);
    if (escaped >= 0) {
      putEscaped(line, off, len, escaped);
    } else {
      // A peer may send invalid UTF-8 in a string field: each bad byte becomes U+FFFD (3 bytes,
      // hence len * 3 above) so the record stays valid JSON.
      pos = escapeLossy(line, off, len, buf, pos);
    }
    put(END);
    records++;
  }

  private static final byte[] LINE_B64 = ascii(",\"line_b64\":\"");

  /**
   * One gRPC record for a line of a Ship chunk: "ts" always present; lossless — a line that is
   * not valid UTF-8 is written as {@code "line_b64":"<base64>"} instead of {@code "line"}.
   */
  public void grpcChunkRecord(byte[] agentFields, byte[] quotedLabel, long tsSeconds,
      int tsNanos, byte[] quotedFid, long offset, byte[] data, int off, int len) {
    if (escapedLength(data, off, len) >= 0) {
      grpcRecord(agentFields, quotedLabel, true, tsSeconds, tsNanos, quotedFid, offset, data,
          off, len);
      return;
    }
    ensure(grpcChunkRecordFixed(agentFields.length, quotedLabel.length, quotedFid.length)
        + (len + 2) / 3 * 4);
    put(RECV);
    put(recvText);
    put(GRPC);
    put(agentFields);
    put(LABEL);
    put(quotedLabel);
    put(TS);
    pos = tsFormatter.format(tsSeconds, tsNanos, buf, pos);
    buf[pos++] = '"';
    put(FID);
    put(quotedFid);
    put(OFF);
    pos = putLong(offset, buf, pos);
    put(LINE_B64);
    put(Base64.getEncoder().encode(Arrays.copyOfRange(data, off, off + len)));
    put(END);
    records++;
  }

  /** Bytes {@link #grpcChunkRecord} writes for one record beside the line's own text (a bound). */
  public static int grpcChunkRecordFixed(
      int agentFieldsLength, int quotedLabelLength, int quotedFidLength) {
    return grpcRecordBound(agentFieldsLength, quotedLabelLength, quotedFidLength, 0)
        + LINE_B64.length - LINE.length;
  }

  /**
   * Upper bound of the escaped-or-base64 size of {@code data[off, off+len)} however it is cut
   * into {@code lines} lines: per byte its escape cost (6 for a control character without a
   * short escape, 2 for a quote, backslash or short-escaped control, else 1), plus {@code len/3
   * + 4} per line for base64.
   */
  public static long linesBound(byte[] data, int off, int len, int lines) {
    long cost = 0;
    for (int i = off, end = off + len; i < end; i++) {
      int b = data[i] & 0xff;
      cost += CLASS[b] == 1 ? escapeLength(b) : 1;
    }
    return cost + len / 3 + 4L * lines;
  }

  /**
   * The most bytes {@link #grpcRecord} appends for a record with these lengths: what a gRPC line
   * costs in the store, known before it is encoded (the caller sums it to account for a batch).
   *
   * @param lineBound the line's escaped length, {@link #escapedLength}, or {@code len * 3} when
   *     that is -1 (invalid UTF-8)
   */
  public static int grpcRecordBound(
      int agentFieldsLength, int quotedLabelLength, int quotedFidLength, int lineBound) {
    return RECV.length + RECV_TEXT_LENGTH + GRPC.length + agentFieldsLength + LABEL.length
        + quotedLabelLength + TS.length + 32 + FID.length + quotedFidLength + OFF.length + 20
        + LINE.length + lineBound + END.length;
  }

  /** The bound {@link #grpcRecord} reserves for the line {@code line[off, off+len)}. */
  public static int grpcLineBound(byte[] line, int off, int len) {
    int escaped = escapedLength(line, off, len);
    return escaped >= 0 ? escaped : len * 3;
  }

  public int records() {
    return records;
  }

  public int length() {
    return pos;
  }

  public boolean isEmpty() {
    return records == 0;
  }

  /** Hands the encoded records to a new chunk and starts an empty buffer. */
  public Chunk finish(List<Chunk.Position> positions) {
    Chunk c = new Chunk(buf, pos, records, positions);
    buf = EMPTY;
    pos = 0;
    records = 0;
    return c;
  }

  /** Copies the bytes, escaped, whose escaped length {@link #escapedLength} computed. */
  private void putEscaped(byte[] src, int off, int len, int escaped) {
    if (escaped == len) {
      System.arraycopy(src, off, buf, pos, len); // the common case: nothing to escape
      pos += len;
    } else {
      pos = escape(src, off, len, buf, pos);
    }
  }

  /**
   * The length of {@code src[off, off+len)} once escaped, or -1 if it is not valid UTF-8. Plain
   * printable ASCII, the bulk of log text, is skipped eight bytes at a time.
   */
  static int escapedLength(byte[] src, int off, int len) {
    int end = off + len;
    int i = off;
    int out = len;
    while (i < end) {
      if (i + 8 <= end && isPlain8((long) LONG.get(src, i))) {
        i += 8;
        continue;
      }
      int b = src[i] & 0xff;
      switch (CLASS[b]) {
        case 0 -> i++;
        case 1 -> {
          out += escapeLength(b) - 1;
          i++;
        }
        default -> {
          int n = utf8SequenceLength(src, i, end);
          if (n < 0) {
            return -1;
          }
          i += n;
        }
      }
    }
    return out;
  }

  private static final long ONES = 0x0101010101010101L;
  private static final long HIGHS = 0x8080808080808080L;
  private static final java.lang.invoke.VarHandle LONG =
      java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class,
          java.nio.ByteOrder.LITTLE_ENDIAN);

  /** True if none of the 8 bytes is a control char, quote, backslash or non-ASCII. */
  private static boolean isPlain8(long v) {
    long nonAscii = v & HIGHS;
    long control = (v - ONES * 0x20) & ~v & HIGHS;
    long quote = hasZero(v ^ (ONES * '"'));
    long backslash = hasZero(v ^ (ONES * '\\'));
    return (nonAscii | control | quote | backslash) == 0;
  }

  private static long hasZero(long x) {
    return (x - ONES) & ~x & HIGHS;
  }

  private static int escapeLength(int b) {
    return switch (b) {
      case '"', '\\', '\n', '\r', '\t', '\b', '\f' -> 2;
      default -> 6;
    };
  }

  private void ensure(int more) {
    if (buf.length - pos < more) {
      buf = Arrays.copyOf(buf, Math.max(Math.max(buf.length * 2, initialCapacity), pos + more));
    }
  }

  private void put(byte[] b) {
    System.arraycopy(b, 0, buf, pos, b.length);
    pos += b.length;
  }

  /**
   * Escapes {@code src[off, off+len)} into {@code dst} at {@code at} (room for 6 bytes per input
   * byte must be there). Returns the new end, or -1 if the input is not valid UTF-8.
   */
  static int escape(byte[] src, int off, int len, byte[] dst, int at) {
    int end = off + len;
    int i = off;
    while (i < end) {
      int b = src[i] & 0xff;
      switch (CLASS[b]) {
        case 0 -> {
          dst[at++] = (byte) b;
          i++;
        }
        case 1 -> {
          at = escapeAscii(b, dst, at);
          i++;
        }
        default -> {
          int n = utf8SequenceLength(src, i, end);
          if (n < 0) {
            return -1;
          }
          System.arraycopy(src, i, dst, at, n);
          at += n;
          i += n;
        }
      }
    }
    return at;
  }

  /** Like {@link #escape} but writes each invalid byte as U+FFFD so the record stays JSON. */
  private static int escapeLossy(byte[] src, int off, int len, byte[] dst, int at) {
    int end = off + len;
    int i = off;
    while (i < end) {
      int b = src[i] & 0xff;
      if (CLASS[b] == 0) {
        dst[at++] = (byte) b;
        i++;
      } else if (CLASS[b] == 1) {
        at = escapeAscii(b, dst, at);
        i++;
      } else {
        int n = utf8SequenceLength(src, i, end);
        if (n < 0) {
          dst[at++] = (byte) 0xEF;
          dst[at++] = (byte) 0xBF;
          dst[at++] = (byte) 0xBD;
          i++;
        } else {
          System.arraycopy(src, i, dst, at, n);
          at += n;
          i += n;
        }
      }
    }
    return at;
  }

  private static int escapeAscii(int b, byte[] dst, int at) {
    dst[at++] = '\\';
    switch (b) {
      case '"' -> dst[at++] = '"';
      case '\\' -> dst[at++] = '\\';
      case '\n' -> dst[at++] = 'n';
      case '\r' -> dst[at++] = 'r';
      case '\t' -> dst[at++] = 't';
      case '\b' -> dst[at++] = 'b';
      case '\f' -> dst[at++] = 'f';
      default -> {
        dst[at++] = 'u';
        dst[at++] = '0';
        dst[at++] = '0';
        dst[at++] = HEX[b >> 4];
        dst[at++] = HEX[b & 0xf];
      }
    }
    return at;
  }

  /** Length of the well-formed UTF-8 sequence at {@code i} (RFC 3629), or -1. */
  static int utf8SequenceLength(byte[] s, int i, int end) {
    int b0 = s[i] & 0xff;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      return i + 1 < end && isCont(s[i + 1]) ? 2 : -1;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
      if (i + 2 >= end) {
        return -1;
      }
      int b1 = s[i + 1] & 0xff;
      if (b0 == 0xE0 && b1 < 0xA0) {
        return -1; // overlong
      }
      if (b0 == 0xED && b1 > 0x9F) {
        return -1; // surrogate
      }
      return isCont(s[i + 1]) && isCont(s[i + 2]) ? 3 : -1;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
      if (i + 3 >= end) {
        return -1;
      }
      int b1 = s[i + 1] & 0xff;
      if (b0 == 0xF0 && b1 < 0x90) {
        return -1; // overlong
      }
      if (b0 == 0xF4 && b1 > 0x8F) {
        return -1; // above U+10FFFF
      }
      return isCont(s[i + 1]) && isCont(s[i + 2]) && isCont(s[i + 3]) ? 4 : -1;
    }
    return -1;
  }

  private static boolean isCont(byte b) {
    return (b & 0xC0) == 0x80;
  }

  private static int putLong(long v, byte[] dst, int at) {
    if (v == 0) {
      dst[at++] = '0';
      return at;
    }
    if (v < 0) { // a uint64 above 2^63 from the wire
      byte[] u = Long.toUnsignedString(v).getBytes(StandardCharsets.US_ASCII);
      System.arraycopy(u, 0, dst, at, u.length);
      return at + u.length;
    }
    int start = at;
    while (v > 0) {
      dst[at++] = (byte) ('0' + (v % 10));
      v /= 10;
    }
    for (int a = start, b = at - 1; a < b; a++, b--) {
      byte t = dst[a];
      dst[a] = dst[b];
      dst[b] = t;
    }
    return at;
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
