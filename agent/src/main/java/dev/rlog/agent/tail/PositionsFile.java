package dev.rlog.agent.tail;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The committed positions of all file instances, as stored in {@code state/positions}. Immutable;
 * any thread. Pure: {@link #parse} and {@link #render} only, the file I/O is {@code OffsetStore}.
 *
 * <h2>Format (UTF-8 text, version 1)</h2>
 *
 * <pre>
 * # comment lines start with '#'; blank lines are ignored
 * rlog-positions 1
 * label TAB instance TAB fileKey TAB fingerprint TAB committed TAB path
 * ...
 * </pre>
 *
 * <ul>
 *   <li>{@code label}: the source label; {@code instance}: the wire id ({@code Log.file_instance});
 *   <li>{@code fileKey}: {@code BasicFileAttributes.fileKey()} as text, or {@code -} when the file
 *       system has none; {@code fingerprint}: lowercase hex, see {@link FileIdentity};
 *   <li>{@code committed}: decimal byte offset, everything before it was acknowledged;
 *   <li>{@code path}: where the instance was last seen.
 * </ul>
 *
 * Fields are separated by exactly one TAB. In label, instance, fileKey and path the characters
 * {@code %}, TAB, LF and CR are written {@code %25 %09 %0A %0D}; a fileKey that is literally
 * {@code -} is written {@code %2D}. Parsing is strict: a wrong header, field count, escape or
 * number, or a repeated instance fails with {@link PositionsFileException} naming file and line.
 */
public record PositionsFile(List<Entry> entries) {
  public static final String HEADER = "rlog-positions 1";
  private static final int FIELDS = 6;

  public PositionsFile {
    entries = List.copyOf(entries);
  }

  public static PositionsFile empty() {
    return new PositionsFile(List.of());
  }

  /** One file instance's committed position. */
  public record Entry(
      String label, String instance, FileIdentity identity, String path, long committed) {
    public Entry {
      requireText(label, "label");
      requireText(instance, "instance");
      requireText(path, "path");
      Objects.requireNonNull(identity, "identity");
      if (!identity.hasFingerprint() || !identity.fingerprint().matches("[0-9a-f]+")) {
        throw new IllegalArgumentException("fingerprint must be lowercase hex: " + identity);
      }
      if (identity.fileKey() != null && identity.fileKey().isEmpty()) {
        throw new IllegalArgumentException("fileKey must be null or non-empty");
      }
      if (committed < 0) {
        throw new IllegalArgumentException("committed must be >= 0: " + committed);
      }
    }
  }

  public byte[] render() {
    StringBuilder sb = new StringBuilder(64 + entries.size() * 128);
    sb.append("# rlog agent: acknowledged byte offset per file instance; written atomically\n");
    sb.append(HEADER).append('\n');
    for (Entry e : entries) {
      sb.append(escape(e.label())).append('\t')
          .append(escape(e.instance())).append('\t')
          .append(e.identity().fileKey() == null ? "-" : escapeKey(e.identity().fileKey())).append('\t')
          .append(e.identity().fingerprint()).append('\t')
          .append(e.committed()).append('\t')
          .append(escape(e.path())).append('\n');
    }
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * @param source names the file in error messages
   * @throws PositionsFileException on anything but a well-formed file
   */
  public static PositionsFile parse(String source, byte[] content) throws PositionsFileException {
    String[] lines = decodeLines(source, content);
    List<Entry> entries = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    boolean headerSeen = false;
    for (int i = 0; i < lines.length; i++) {
      int lineNo = i + 1;
      String line = lines[i];
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      if (!headerSeen) {
        if (!line.equals(HEADER)) {
          throw new PositionsFileException(source, lineNo,
              "expected header '" + HEADER + "', found '" + abbreviate(line) + "'");
        }
        headerSeen = true;
        continue;
      }
      Entry e = parseEntry(source, lineNo, line);
      if (!seen.add(e.instance())) {
        throw new PositionsFileException(source, lineNo, "instance " + e.instance() + " repeated");
      }
      entries.add(e);
    }
    if (!headerSeen) {
      // The store writes the header even with no entries; a file without one (empty, for
      // instance) was not written by us, and guessing "nothing committed" would re-ship it all.
      throw new PositionsFileException(source, lines.length, "missing header '" + HEADER + "'");
    }
    return new PositionsFile(entries);
  }

  /** Splits on LF and decodes each line as strict UTF-8, so a bad byte names its line. */
  private static String[] decodeLines(String source, byte[] content) throws PositionsFileException {
    List<String> out = new ArrayList<>();
    int start = 0;
    for (int i = 0; i <= content.length; i++) {
      if (i == content.length || content[i] == '\n') {
        try {
          out.add(StandardCharsets.UTF_8.newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(content, start, i - start))
              .toString());
        } catch (CharacterCodingException e) {
          throw new PositionsFileException(source, out.size() + 1, "not valid UTF-8");
        }
        start = i + 1;
      }
    }
    return out.toArray(new String[0]);
  }

  private static Entry parseEntry(String source, int lineNo, String line)
      throws PositionsFileException {
    String[] f = line.split("\t", -1);
    if (f.length != FIELDS) {
      throw new PositionsFileException(source, lineNo,
          "expected " + FIELDS + " tab-separated fields, found " + f.length);
    }
    String label = unescape(source, lineNo, "label", f[0]);
    String instance = unescape(source, lineNo, "instance", f[1]);
    String fileKey = f[2].equals("-") ? null : unescape(source, lineNo, "fileKey", f[2]);
    String fingerprint = f[3];
    if (!fingerprint.matches("[0-9a-f]{1,64}")) {
      throw new PositionsFileException(source, lineNo, "fingerprint is not lowercase hex: '"
          + abbreviate(fingerprint) + "'");
    }
    long committed;
    try {
      committed = Long.parseLong(f[4]);
    } catch (NumberFormatException e) {
      throw new PositionsFileException(source, lineNo, "committed offset is not a number: '"
          + abbreviate(f[4]) + "'");
    }
    if (committed < 0 || !f[4].matches("[0-9]+")) {
      throw new PositionsFileException(source, lineNo, "committed offset must be a plain "
          + "non-negative decimal: '" + abbreviate(f[4]) + "'");
    }
    String path = unescape(source, lineNo, "path", f[5]);
    try {
      return new Entry(label, instance, new FileIdentity(fileKey, fingerprint), path, committed);
    } catch (IllegalArgumentException e) {
      throw new PositionsFileException(source, lineNo, e.getMessage());
    }
  }

  static String escape(String s) {
    StringBuilder sb = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      String rep = switch (c) {
        case '%' -> "%25";
        case '\t' -> "%09";
        case '\n' -> "%0A";
        case '\r' -> "%0D";
        default -> null;
      };
      if (rep != null && sb == null) {
        sb = new StringBuilder(s.length() + 8).append(s, 0, i);
      }
      if (sb != null) {
        if (rep != null) {
          sb.append(rep);
        } else {
          sb.append(c);
        }
      }
    }
    return sb == null ? s : sb.toString();
  }

  private static String escapeKey(String key) {
    return key.equals("-") ? "%2D" : escape(key);
  }

  private static String unescape(String source, int lineNo, String field, String s)
      throws PositionsFileException {
    if (s.isEmpty()) {
      throw new PositionsFileException(source, lineNo, field + " is empty");
    }
    if (s.indexOf('%') < 0) {
      return s;
    }
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '%') {
        sb.append(c);
        continue;
      }
      if (i + 2 >= s.length()) {
        throw new PositionsFileException(source, lineNo, field + " has a truncated %-escape");
      }
      int hi = Character.digit(s.charAt(i + 1), 16);
      int lo = Character.digit(s.charAt(i + 2), 16);
      if (hi < 0 || lo < 0) {
        throw new PositionsFileException(source, lineNo, field + " has a bad %-escape '"
            + s.substring(i, i + 3) + "'");
      }
      sb.append((char) (hi << 4 | lo));
      i += 2;
    }
    return sb.toString();
  }

  private static String abbreviate(String s) {
    return s.length() <= 40 ? s : s.substring(0, 40) + "...";
  }

  private static void requireText(String s, String name) {
    if (s == null || s.isEmpty()) {
      throw new IllegalArgumentException(name + " must be non-empty");
    }
  }
}
