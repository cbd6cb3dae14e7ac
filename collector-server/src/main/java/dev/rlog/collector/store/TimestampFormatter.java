package dev.rlog.collector.store;

import java.time.LocalDateTime;
import java.time.ZoneOffset;

/**
 * Formats instants as ISO-8601 UTC ({@code 2026-11-21T22:01:27.123Z}) straight into a byte
 * buffer. The date-time part is cached per second, since the lines of one batch mostly share it,
 * so a line's timestamp costs a 19-byte copy and its fraction digits (two per step, see
 * {@link DecimalWriter}). Not thread-safe.
 */
final class TimestampFormatter {
  /** Most bytes {@link #format} writes: {@code yyyy-MM-ddTHH:mm:ss.nnnnnnnnnZ}. */
  static final int MAX_LENGTH = 30;

  private long cachedSecond = Long.MIN_VALUE;
  private final byte[] cached = new byte[19]; // yyyy-MM-ddTHH:mm:ss

  /** Writes exactly 24 bytes: {@code yyyy-MM-ddTHH:mm:ss.SSSZ}. */
  static int formatMillis(long epochMillis, byte[] dst, int at) {
    long sec = Math.floorDiv(epochMillis, 1000);
    int ms = (int) Math.floorMod(epochMillis, 1000);
    at = dateTime(sec, dst, at);
    dst[at++] = '.';
    at = digits(ms, 3, dst, at);
    dst[at++] = 'Z';
    return at;
  }

  /** Writes the instant with as many fraction digits as it needs (none, 3, 6 or 9). */
  int format(long epochSecond, int nanos, byte[] dst, int at) {
    if (epochSecond != cachedSecond) {
      dateTime(epochSecond, cached, 0);
      cachedSecond = epochSecond;
    }
    System.arraycopy(cached, 0, dst, at, cached.length);
    at += cached.length;
    if (nanos > 0 && nanos < 1_000_000_000) {
      dst[at++] = '.';
      int micros = nanos / 1000;
      if (micros * 1000 != nanos) {
        at = digits(nanos, 9, dst, at);
      } else if (micros % 1000 != 0) {
        at = digits(micros, 6, dst, at);
      } else {
        at = digits(micros / 1000, 3, dst, at);
      }
    }
    dst[at++] = 'Z';
    return at;
  }

  private static int dateTime(long epochSecond, byte[] dst, int at) {
    LocalDateTime t = LocalDateTime.ofEpochSecond(clampSecond(epochSecond), 0, ZoneOffset.UTC);
    at = digits(t.getYear(), 4, dst, at);
    dst[at++] = '-';
    at = digits(t.getMonthValue(), 2, dst, at);
    dst[at++] = '-';
    at = digits(t.getDayOfMonth(), 2, dst, at);
    dst[at++] = 'T';
    at = digits(t.getHour(), 2, dst, at);
    dst[at++] = ':';
    at = digits(t.getMinute(), 2, dst, at);
    dst[at++] = ':';
    at = digits(t.getSecond(), 2, dst, at);
    return at;
  }

  /** Keeps the year within 0000..9999 so the text has a fixed width; wire timestamps can lie. */
  private static long clampSecond(long s) {
    final long min = -62_167_219_200L; // 0000-01-01T00:00:00Z
    final long max = 253_402_300_799L; // 9999-12-31T23:59:59Z
    return Math.max(min, Math.min(max, s));
  }

  private static int digits(int v, int width, byte[] dst, int at) {
    return DecimalWriter.putFixed(v, width, dst, at);
  }
}
