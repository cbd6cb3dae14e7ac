package dev.rlog.e2e;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The disk alone, written the way the collector's store writes it: 2 MiB writes into new
 * 128 MiB files, a second thread forcing the file every 8 MiB while writing goes on, each file
 * forced once more before the next is created. What the store could reach if receiving and
 * encoding cost nothing: the peer of the TCP scenarios, whose records go straight to the store.
 */
final class DiskReference {
  static final int WRITE_BYTES = 2 << 20;
  static final long FORCE_EVERY = 8L << 20;
  static final long FILE_BYTES = 128L << 20;
  private static final FileChannel END = null;

  private DiskReference() {}

  /** Writes {@code bytes} (at least 64 MiB) under {@code dir}, deletes them, returns MiB/s. */
  static double mibPerSecond(Path dir, long bytes) throws Exception {
    long total = Math.max(64L << 20, bytes);
    ByteBuffer block = ByteBuffer.allocateDirect(WRITE_BYTES);
    for (int i = 0; i < WRITE_BYTES; i++) {
      block.put(i, (byte) (i % 64 == 63 ? '\n' : 'x'));
    }
    Path ref = Files.createDirectories(dir.resolve("disk-reference"));
    LinkedBlockingQueue<List<FileChannel>> toForce = new LinkedBlockingQueue<>();
    List<Throwable> errors = new ArrayList<>();
    Thread forcer = new Thread(() -> {
      try {
        while (true) {
          FileChannel ch = toForce.take().get(0);
          if (ch == END) {
            return;
          }
          try {
            ch.force(false);
          } catch (ClosedChannelException e) {
            // the writer forced and closed it already
          }
        }
      } catch (Throwable e) {
        synchronized (errors) {
          errors.add(e);
        }
      }
    }, "disk-reference-force");
    forcer.start();
    long t0 = System.nanoTime();
    try {
      long written = 0;
      for (int file = 0; written < total; file++) {
        try (FileChannel ch = FileChannel.open(ref.resolve("f" + file),
            StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
          long inFile = 0;
          long unforced = 0;
          while (inFile < FILE_BYTES && written < total) {
            block.clear();
            while (block.hasRemaining()) {
              ch.write(block);
            }
            inFile += WRITE_BYTES;
            written += WRITE_BYTES;
            unforced += WRITE_BYTES;
            if (unforced >= FORCE_EVERY && toForce.isEmpty()) {
              toForce.add(List.of(ch));
              unforced = 0;
            }
          }
          ch.force(false);
        }
      }
      double secs = (System.nanoTime() - t0) / 1e9;
      return total / (double) (1 << 20) / secs;
    } finally {
      List<FileChannel> end = new ArrayList<>();
      end.add(END);
      toForce.add(end);
      forcer.join();
      try (var files = Files.list(ref)) {
        for (Path f : files.toList()) {
          Files.deleteIfExists(f);
        }
      }
      Files.deleteIfExists(ref);
      synchronized (errors) {
        if (!errors.isEmpty()) {
          throw new IOException("disk reference failed", errors.get(0));
        }
      }
    }
  }
}
