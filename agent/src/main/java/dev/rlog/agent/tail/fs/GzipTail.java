package dev.rlog.agent.tail.fs;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Reads what is left of a file instance from its gzip-compressed copy: logrotate's {@code
 * compress} without {@code delaycompress} can compress a rotated file before the agent finished
 * it, and the instance's offsets count its uncompressed bytes. A gzip file does not grow, so it is
 * read once, sequentially, from the instance's position to its end.
 *
 * <p>Bounds: one inflater and an 8 KiB input buffer per open instance. Opening at position
 * {@code p} decompresses and discards {@code p} bytes through the caller's buffer. Owner thread
 * only.
 */
final class GzipTail implements AutoCloseable {
  private final InputStream in;
  private long position;
  private boolean ended;

  private GzipTail(InputStream in) {
    this.in = in;
  }

  /**
   * Opens {@code p} and skips to {@code position} (an offset in the uncompressed bytes).
   *
   * @throws IOException if it cannot be read, or ends before {@code position}
   */
  static GzipTail open(Path p, long position, byte[] scratch) throws IOException {
    InputStream raw = Files.newInputStream(p);
    GzipTail t;
    try {
      t = new GzipTail(new GZIPInputStream(raw, 8192));
    } catch (IOException e) {
      raw.close();
      throw e;
    }
    try {
      long left = position;
      while (left > 0) {
        int n = t.in.read(scratch, 0, (int) Math.min(scratch.length, left));
        if (n < 0) {
          throw new IOException(p + " holds only " + (position - left)
              + " uncompressed bytes, fewer than the position " + position);
        }
        left -= n;
      }
      t.position = position;
      return t;
    } catch (IOException e) {
      t.close();
      throw e;
    }
  }

  /** Reads the next bytes into {@code buf[0..max)}; 0 once the end was reached. */
  int read(byte[] buf, int max) throws IOException {
    if (ended) {
      return 0;
    }
    int n = in.readNBytes(buf, 0, max);
    if (n < max) {
      ended = true;
    }
    position += n;
    return n;
  }

  boolean ended() {
    return ended;
  }

  /** Uncompressed offset of the next byte. */
  long position() {
    return position;
  }

  @Override
  public void close() {
    try {
      in.close();
    } catch (IOException e) {
      // read-only; nothing to lose
    }
  }
}
