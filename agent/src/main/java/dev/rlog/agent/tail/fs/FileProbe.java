package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.FileIdentity;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteOrder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * Small file-system reads the tailer needs: a file's key and size, the bytes its fingerprint
 * covers, and prefix comparison. Stateless apart from a scratch buffer; owner thread only.
 */
final class FileProbe {
  /** Names of compressed files: finished from (decompressed), never started. */
  static boolean isGzip(Path fileName) {
    return fileName.toString().endsWith(".gz");
  }

  /** {@code fileKey} may be null (no inodes); size in bytes; mtime in epoch millis. */
  record Stat(String fileKey, long size, long modifiedMillis) {}

  private final int fingerprintBytes;
  private final ByteBuffer scratch;

  FileProbe(int fingerprintBytes) {
    this.fingerprintBytes = fingerprintBytes;
    this.scratch = ByteBuffer.allocate(fingerprintBytes);
  }

  /** Follows symbolic links; null if the path is gone or not a regular file. */
  static Stat stat(Path p) throws IOException {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(p, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      return null;
    }
    if (!a.isRegularFile()) {
      return null;
    }
    Object key = a.fileKey();
    return new Stat(key == null ? null : key.toString(), a.size(),
        a.lastModifiedTime().toMillis());
  }

  /** The fingerprint of what the channel holds, or null if not decidable yet. */
  String fingerprint(FileChannel ch) throws IOException {
    scratch.clear();
    int n = readFully(ch, 0, scratch);
    return FileIdentity.fingerprint(scratch.array(), n, fingerprintBytes);
  }

  /**
   * The path no longer holds the inode a listing saw there (renamed, replaced or deleted since):
   * names shifted while the directory was looked at, and what was seen is not one moment.
   */
  static final class MovedException extends IOException {
    MovedException(Path p) {
      super(p + " changed since it was listed");
    }
  }

  /**
   * The fingerprint of the file at {@code p}, or null if not decidable yet, checking that the
   * file opened is the inode {@code expectedKey} the listing saw (null: no inodes, not checked).
   *
   * @throws MovedException if {@code p} holds another inode now, or nothing
   */
  String fingerprint(Path p, String expectedKey) throws IOException {
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      requireKey(p, expectedKey);
      return fingerprint(ch);
    } catch (NoSuchFileException e) {
      throw new MovedException(p);
    }
  }

  /**
   * The fingerprint of the decompressed bytes of the gzip file at {@code p} (which must still be
   * inode {@code expectedKey}), or null if not decidable (too short, not readable as gzip yet).
   *
   * @throws MovedException if {@code p} holds another inode now, or nothing
   */
  String gzipFingerprint(Path p, String expectedKey) throws MovedException {
    try (InputStream raw = Files.newInputStream(p)) {
      requireKey(p, expectedKey);
      try (InputStream in = new GZIPInputStream(raw, 8192)) {
        byte[] head = scratch.array();
        int n = in.readNBytes(head, 0, fingerprintBytes);
        return FileIdentity.fingerprint(head, n, fingerprintBytes);
      }
    } catch (MovedException | NoSuchFileException e) {
      throw new MovedException(p);
    } catch (IOException e) {
      return null; // still being written, or not gzip
    }
  }

  /** After opening {@code p}: it still is {@code expectedKey}, so what was opened is that file. */
  private static void requireKey(Path p, String expectedKey) throws IOException {
    if (expectedKey == null) {
      return;
    }
    Stat s = stat(p);
    if (s == null || !expectedKey.equals(s.fileKey())) {
      throw new MovedException(p);
    }
  }

  /**
   * The uncompressed size a gzip file declares in its trailer (ISIZE, modulo 2^32: exact for the
   * single-member files logrotate's gzip writes, below 4 GiB), or -1 if it cannot be read.
   */
  static long gzipDeclaredSize(Path p, long compressedSize) {
    if (compressedSize < 18) {
      return -1; // smaller than an empty gzip member: still being written
    }
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
      if (readFully(ch, compressedSize - 4, b) < 4) {
        return -1;
      }
      return Integer.toUnsignedLong(b.getInt(0));
    } catch (IOException e) {
      return -1;
    }
  }

  /** True if both files hold the same first {@code n} bytes (false if either is shorter). */
  static boolean samePrefix(FileChannel a, Path b, int n) throws IOException {
    ByteBuffer x = ByteBuffer.allocate(n);
    ByteBuffer y = ByteBuffer.allocate(n);
    try (FileChannel cb = FileChannel.open(b, StandardOpenOption.READ)) {
      if (readFully(a, 0, x) < n || readFully(cb, 0, y) < n) {
        return false;
      }
    } catch (NoSuchFileException e) {
      return false;
    }
    return Arrays.equals(x.array(), y.array());
  }

  /** Positional read until {@code buf} is full or end of file; returns bytes read. */
  static int readFully(FileChannel ch, long position, ByteBuffer buf) throws IOException {
    int total = 0;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, position + total);
      if (n <= 0) {
        break;
      }
      total += n;
    }
    return total;
  }
}
