package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.FileIdentity;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;

/**
 * Small file-system reads the tailer needs: a file's key and size, the bytes its fingerprint
 * covers, and prefix comparison. Stateless apart from a scratch buffer; owner thread only.
 */
final class FileProbe {
  /** {@code fileKey} may be null (no inodes); size in bytes. */
  record Stat(String fileKey, long size) {}

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
    return new Stat(key == null ? null : key.toString(), a.size());
  }

  /** The fingerprint of what the channel holds, or null if not decidable yet. */
  String fingerprint(FileChannel ch) throws IOException {
    scratch.clear();
    int n = readFully(ch, 0, scratch);
    return FileIdentity.fingerprint(scratch.array(), n, fingerprintBytes);
  }

  /** The fingerprint of the file at {@code p}, or null if not decidable or gone. */
  String fingerprint(Path p) throws IOException {
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      return fingerprint(ch);
    } catch (NoSuchFileException e) {
      return null;
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
