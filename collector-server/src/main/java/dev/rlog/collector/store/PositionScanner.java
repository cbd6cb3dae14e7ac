package dev.rlog.collector.store;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Arrays;

/**
 * Recovery side of the store: reads stored records back and reports the (agent, file instance,
 * offset) of every gRPC record that carries a position, so the committed positions reflect
 * everything in the store even past the last checkpoint.
 *
 * <p>Records are JSON Lines (see {@code JsonLinesEncoder}); only {@code recv}, {@code src},
 * {@code agent}, {@code fid} and {@code off} are looked at, and a line is left as soon as it is known to be a
 * TCP record or all four are found (the encoder writes them before the line), so the (possibly large) {@code line} and
 * {@code payload} values are normally not even tokenised. A line that is not a JSON object is
 * counted in {@link #unreadableLines()} and skipped: it cannot carry a position we could honour.
 *
 * <p>Not thread-safe; used by {@link SegmentStore#open} only. Memory: one read buffer that grows
 * to the longest line seen (lines are bounded by the ingest caps).
 */
final class PositionScanner {
  /** Receives each position found, in store order. */
  @FunctionalInterface
  interface Sink {
    /** {@code receivedAtMillis}: the record's {@code recv} time, or -1 if it has none. */
    void position(String agent, String fileInstance, long offset, long receivedAtMillis);
  }

  private static final JsonFactory JSON = new JsonFactory();
  private static final int READ_BUFFER_BYTES = 1 << 20;

  private final Sink sink;
  private byte[] buf = new byte[READ_BUFFER_BYTES];
  private long lines;
  private long unreadableLines;
  private long bytes;
  /** The last {@code recv} text parsed and its value: neighbouring records share a millisecond. */
  private String lastRecvText;
  private long lastRecvMillis = -1;

  PositionScanner(Sink sink) {
    this.sink = sink;
  }

  /**
   * Scans {@code [from, to)} of a segment, which must start at a record boundary. Returns the
   * number of trailing bytes after the last newline (not a whole record; counted unreadable
   * when non-zero).
   */
  long scan(Path segment, long from, long to) throws IOException {
    long trailing = 0;
    try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.READ)) {
      long pos = from;
      int filled = 0;
      while (pos < to) {
        if (filled == buf.length) {
          // One line longer than the buffer: grow so the whole line can be parsed at once.
          buf = Arrays.copyOf(buf, buf.length * 2);
        }
        int want = (int) Math.min(buf.length - filled, to - pos);
        int n = ch.read(ByteBuffer.wrap(buf, filled, want), pos);
        if (n < 0) {
          break; // shorter than the caller thought; treat what we have as the end
        }
        pos += n;
        int carried = filled; // bytes kept from the last read hold no newline: do not rescan
        filled += n;
        int start = 0;
        for (int i = carried; i < filled; i++) {
          if (buf[i] == '\n') {
            line(buf, start, i - start);
            start = i + 1;
          }
        }
        System.arraycopy(buf, start, buf, 0, filled - start);
        filled -= start;
      }
      bytes += pos - from;
      if (filled > 0) {
        trailing = filled;
        unreadableLines++;
      }
    }
    return trailing;
  }

  /** Parses one record (without its newline) and reports its position, if it has one. */
  void line(byte[] b, int off, int len) {
    lines++;
    boolean grpc = false;
    String agent = null;
    String fid = null;
    long offset = -1;
    String recv = null;
    try (JsonParser p = JSON.createParser(b, off, len)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        unreadableLines++;
        return;
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        switch (name) {
          case "recv":
            recv = value == JsonToken.VALUE_STRING ? p.getText() : null;
            break;
          case "src":
            if (value != JsonToken.VALUE_STRING || !"grpc".equals(p.getText())) {
              return; // TCP records carry no positions
            }
            grpc = true;
            break;
          case "agent":
            agent = value == JsonToken.VALUE_STRING ? p.getText() : null;
            break;
          case "fid":
            fid = value == JsonToken.VALUE_STRING ? p.getText() : null;
            break;
          case "off":
            offset = value == JsonToken.VALUE_NUMBER_INT ? p.getLongValue() : -1;
            break;
          default:
            p.skipChildren(); // no-op for scalars
        }
        if (grpc && agent != null && fid != null && offset >= 0) {
          break; // the rest (the line itself) cannot change the position
        }
      }
      if (t == null) {
        unreadableLines++; // the object never closed
        return;
      }
    } catch (IOException e) {
      unreadableLines++;
      return;
    }
    if (grpc && agent != null && fid != null && offset >= 0) {
      sink.position(agent, fid, offset, receivedAt(recv));
    }
  }

  private long receivedAt(String recv) {
    if (recv == null) {
      return -1;
    }
    if (!recv.equals(lastRecvText)) {
      long millis;
      try {
        millis = Instant.parse(recv).toEpochMilli();
      } catch (DateTimeParseException | ArithmeticException e) {
        millis = -1;
      }
      lastRecvText = recv;
      lastRecvMillis = millis;
    }
    return lastRecvMillis;
  }

  long lines() {
    return lines;
  }

  long unreadableLines() {
    return unreadableLines;
  }

  long bytes() {
    return bytes;
  }
}
