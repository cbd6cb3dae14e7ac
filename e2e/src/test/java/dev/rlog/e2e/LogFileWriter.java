package dev.rlog.e2e;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Plays an application writing a log: numbered lines appended to a file, and the two ways tools
 * rotate it (rename, as logrotate's default; copytruncate). Lines look like
 * {@code <label> seq=00000042 <padding>} so the store can be checked for each one.
 */
final class LogFileWriter implements AutoCloseable {
  private final Path path;
  private final String label;
  private final int padding;
  private FileChannel out;
  private long next;

  LogFileWriter(Path path, String label, int padding) throws IOException {
    this.path = path;
    this.label = label;
    this.padding = padding;
    this.out = open(path);
  }

  private static FileChannel open(Path p) throws IOException {
    return FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.APPEND);
  }

  static String line(String label, long seq, int padding) {
    return label + " seq=" + String.format("%08d", seq) + " " + "x".repeat(padding);
  }

  /** Appends {@code n} lines in large writes; returns the sequence number after the last. */
  long write(int n) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(line(label, next++, padding)).append('\n');
      if (sb.length() > 64 * 1024) {
        flush(sb);
      }
    }
    flush(sb);
    return next;
  }

  private void flush(StringBuilder sb) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8));
    while (b.hasRemaining()) {
      out.write(b);
    }
    sb.setLength(0);
  }

  /** Rename rotation: the file moves to {@code rotated}; writing goes on to the old handle. */
  void renameTo(Path rotated) throws IOException {
    Files.move(path, rotated, StandardCopyOption.ATOMIC_MOVE);
  }

  /** After a rename: the application reopens its log at the original path. */
  void reopen() throws IOException {
    out.close();
    out = open(path);
  }

  /** copytruncate: copy the file, then truncate it in place (the writer paused meanwhile). */
  void copyTruncate(Path copy) throws IOException {
    Files.copy(path, copy, StandardCopyOption.REPLACE_EXISTING);
    out.truncate(0);
  }

  long written() {
    return next;
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
