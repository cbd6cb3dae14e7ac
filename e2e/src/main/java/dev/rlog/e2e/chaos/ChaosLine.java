package dev.rlog.e2e.chaos;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.zip.CRC32;

/**
 * The lines the chaos writers append, and their exact check. A line names its file and its
 * sequence number within that file, carries a padding that differs from line to line, and ends
 * in a CRC-32 of everything before it:
 *
 * <pre>
 * chaos f=1 seq=0000004711 pad=hijklmnop... crc=1a2b3c4d
 * </pre>
 *
 * <p>So a stored record is either exactly one written line (file, sequence number) or corrupt:
 * a cut, joined or altered line fails the CRC or the shape. Pure; any thread.
 */
public final class ChaosLine {
  static final String PREFIX = "chaos f=";
  private static final int MIN_PAD = 1;

  private ChaosLine() {}

  /** One written line of file {@code file}, number {@code seq}, about {@code lineBytes} long. */
  public static String format(int file, long seq, int lineBytes) {
    String head = PREFIX + file + " seq=" + String.format(Locale.ROOT, "%010d", seq) + " pad=";
    int padLength = Math.max(MIN_PAD, lineBytes - head.length() - " crc=00000000".length());
    StringBuilder sb = new StringBuilder(head.length() + padLength + 13).append(head);
    for (int i = 0; i < padLength; i++) {
      sb.append((char) ('a' + (int) ((seq + file * 7L + i) % 26)));
    }
    String body = sb.toString();
    return body + " crc=" + String.format(Locale.ROOT, "%08x", crc(body));
  }

  /** What a line says it is; {@code null} if it is not a whole, unaltered chaos line. */
  public static Parsed parse(String line) {
    int crcAt = line.lastIndexOf(" crc=");
    if (!line.startsWith(PREFIX) || crcAt < 0 || line.length() - crcAt != 13) {
      return null;
    }
    String body = line.substring(0, crcAt);
    long crc;
    try {
      crc = Long.parseLong(line.substring(crcAt + 5), 16);
    } catch (NumberFormatException e) {
      return null;
    }
    if (crc != crc(body)) {
      return null;
    }
    String[] parts = body.split(" ", -1);
    // parts[0] is "chaos" and parts[1] starts with "f=": PREFIX was checked above
    if (parts.length != 4 || !parts[2].startsWith("seq=") || !parts[3].startsWith("pad=")) {
      return null;
    }
    try {
      int file = Integer.parseInt(parts[1].substring(2));
      long seq = Long.parseLong(parts[2].substring(4));
      return file < 0 || seq < 0 ? null : new Parsed(file, seq);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static long crc(String body) {
    CRC32 c = new CRC32();
    c.update(body.getBytes(StandardCharsets.UTF_8));
    return c.getValue();
  }

  /** The identity a well-formed line carries. */
  public record Parsed(int file, long seq) {}
}
