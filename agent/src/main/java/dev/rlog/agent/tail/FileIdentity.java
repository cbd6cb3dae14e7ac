package dev.rlog.agent.tail;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What identifies one file on disk: where it lives ({@code fileKey}, device + inode as
 * {@code BasicFileAttributes.fileKey().toString()}) and what it starts with ({@code fingerprint}).
 * Pure value; immutable; any thread.
 *
 * <h2>Fingerprint rule</h2>
 *
 * The fingerprint is the first 16 hex digits (64 bits) of the SHA-256 of the file's first
 * {@code L} bytes, where {@code L = min(N, end of the first line including its '\n')} and
 * {@code N} is {@link #DEFAULT_FINGERPRINT_BYTES} unless configured. While the file has fewer
 * than {@code N} bytes and no newline, the fingerprint is not decidable yet ({@code null}) and the
 * file is not read: without a complete line there is nothing to ship anyway.
 *
 * <p>Why the first line rather than "whatever is there": {@code L} depends only on the content,
 * never on when the file was looked at, so a file that grows keeps its fingerprint (a short file
 * is recognised after it grew), and its copy made by copytruncate has the same one.
 *
 * <h2>Identity of a file instance on the wire</h2>
 *
 * {@link #instanceId(String)} is the stable string sent as {@code Log.file_instance}:
 * {@code <dev>:<ino>:<fp16>:<nonce>}. The nonce is chosen once when the tailer first meets the
 * instance and is persisted with its position before any of its lines is shipped. It is there
 * because the collector drops every line at or below the highest offset it stored for an id: an
 * id built only from inode and first line would be reused by a recreated file with the same
 * inode and the same header line, and its first lines would be silently dropped. The id is also
 * not a function of the current {@code FileIdentity}: when copytruncate is detected the instance
 * continues on the copy (another inode) under the same id, so offsets keep rising.
 *
 * <p>{@code fileKey == null} (file systems without inodes): matching falls back to fingerprint
 * plus path; callers compare paths themselves. The id then starts with {@code nokey}.
 */
public record FileIdentity(String fileKey, String fingerprint) {
  /** Default {@code N}: at most this many leading bytes are hashed. */
  public static final int DEFAULT_FINGERPRINT_BYTES = 1024;

  private static final int FINGERPRINT_HEX_DIGITS = 16;
  private static final Pattern UNIX_KEY = Pattern.compile("\\(dev=([0-9a-fA-F]+),ino=([0-9]+)\\)");

  /** An identity whose fingerprint is not decidable yet. */
  public static FileIdentity undecided(String fileKey) {
    return new FileIdentity(fileKey, null);
  }

  public boolean hasFingerprint() {
    return fingerprint != null;
  }

  /** Both fingerprints known and equal. */
  public boolean sameStart(FileIdentity other) {
    return fingerprint != null && fingerprint.equals(other.fingerprint);
  }

  /** Both file keys known and equal: the same inode. */
  public boolean sameKey(FileIdentity other) {
    return fileKey != null && fileKey.equals(other.fileKey);
  }

  /**
   * Same inode and same first bytes. Without file keys on either side, fingerprints alone (the
   * caller must also compare paths).
   */
  public boolean sameFile(FileIdentity other) {
    if (!sameStart(other)) {
      return false;
    }
    return fileKey == null || other.fileKey == null || fileKey.equals(other.fileKey);
  }

  /**
   * The wire form {@code <dev>:<ino>:<fp16>:<nonce>} for a new instance of this file.
   *
   * @throws IllegalStateException if the fingerprint is not decided yet
   */
  public String instanceId(String nonce) {
    if (fingerprint == null) {
      throw new IllegalStateException("fingerprint not decided yet for " + fileKey);
    }
    if (nonce == null || nonce.isEmpty() || !nonce.chars().allMatch(Character::isLetterOrDigit)) {
      throw new IllegalArgumentException("nonce must be non-empty alphanumeric: " + nonce);
    }
    return compactKey(fileKey) + ":" + fingerprint + ":" + nonce;
  }

  /** {@code (dev=803,ino=1234)} becomes {@code 803:1234}; other forms are sanitised. */
  static String compactKey(String fileKey) {
    if (fileKey == null) {
      return "nokey";
    }
    Matcher m = UNIX_KEY.matcher(fileKey);
    if (m.matches()) {
      return m.group(1) + ":" + m.group(2);
    }
    String clean = fileKey.replaceAll("[^A-Za-z0-9]+", "_");
    return clean.length() > 64 ? clean.substring(0, 64) : clean;
  }

  /**
   * How many leading bytes the fingerprint covers, given the file's first {@code len} bytes
   * (callers pass {@code min(n, size)} bytes): the first line including its newline, capped at
   * {@code n}; {@code -1} when not decidable yet (fewer than {@code n} bytes and no newline).
   */
  public static int fingerprintLength(byte[] head, int len, int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("fingerprint bytes must be > 0: " + n);
    }
    int limit = Math.min(len, n);
    for (int i = 0; i < limit; i++) {
      if (head[i] == '\n') {
        return i + 1;
      }
    }
    return len >= n ? n : -1;
  }

  /** The fingerprint of a file starting with {@code head[0..len)}, or null when not decidable. */
  public static String fingerprint(byte[] head, int len, int n) {
    int l = fingerprintLength(head, len, n);
    if (l < 0) {
      return null;
    }
    MessageDigest sha = sha256();
    sha.update(head, 0, l);
    return HexFormat.of().formatHex(sha.digest()).substring(0, FINGERPRINT_HEX_DIGITS);
  }

  /** Convenience for tests and tools: the fingerprint of a file with this text at its start. */
  public static String fingerprintOf(String start) {
    byte[] b = start.getBytes(StandardCharsets.UTF_8);
    return fingerprint(b, b.length, DEFAULT_FINGERPRINT_BYTES);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
