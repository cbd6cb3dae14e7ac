package dev.rlog.e2e;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Counts the newlines of a file that another process appends to, reading only what was added
 * since the last call: the benchmark polls it every few milliseconds, and re-reading the whole
 * sink each time would cost more CPU (on the cores the measured processes share) the further
 * the run gets. The file may not exist yet (the sink creates it when the peer connects). One
 * thread; {@link #close()} releases the file.
 */
final class SinkLineCounter implements AutoCloseable {
  private static final int CHUNK = 1 << 20;

  private final Path file;
  private final ByteBuffer buf = ByteBuffer.allocate(CHUNK);
  private FileChannel channel;
  private long lines;

  SinkLineCounter(Path file) {
    this.file = file;
  }

  /** Reads what was appended since the last call and returns the newlines counted so far. */
  long poll() throws IOException {
    if (channel == null) {
      if (!Files.exists(file)) {
        return 0;
      }
      channel = FileChannel.open(file, StandardOpenOption.READ);
    }
    int n;
    // Reads to the current end; a writer that keeps appending is caught up with next poll.
    while ((n = channel.read(buf.clear())) > 0) {
      byte[] a = buf.array();
      for (int i = 0; i < n; i++) {
        if (a[i] == '\n') {
          lines++;
        }
      }
    }
    return lines;
  }

  @Override
  public void close() throws IOException {
    if (channel != null) {
      channel.close();
    }
  }
}
