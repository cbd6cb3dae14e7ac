package dev.rlog.collector.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real page cache (Linux, where the collector runs in production and CI): what is dropped
 * leaves it, what is not stays, and the data is the same read back from the disk.
 */
@EnabledOnOs(OS.LINUX)
class PageCacheTest {
  private static final int MIB = 1 << 20;
  @TempDir Path dir;

  /** Whether every page of file[from, from+len) is in the page cache (mincore, via the JDK). */
  private static boolean cached(FileChannel ch, long from, long len) throws Exception {
    MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_ONLY, from, len);
    return m.isLoaded();
  }

  @Test
  void dropsTheGivenRangeOfAWrittenFileAndKeepsTheRest() throws Exception {
    PageCache.Dropper pageCache = PageCache.system();
    assertThat(pageCache).as("linked on Linux").isNotSameAs(PageCache.NONE);
    Path file = dir.resolve("segment");
    byte[] block = new byte[MIB];
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      for (int i = 0; i < 12; i++) {
        java.util.Arrays.fill(block, (byte) ('a' + i));
        ByteBuffer b = ByteBuffer.wrap(block);
        while (b.hasRemaining()) {
          ch.write(b);
        }
      }
      ch.force(false); // clean pages: the kernel drops only those
      assertThat(cached(ch, 0, 12L * MIB)).isTrue();

      pageCache.drop(file, 0, 4L * MIB);
      assertThat(cached(ch, 0, 4L * MIB)).isFalse();
      assertThat(cached(ch, 4L * MIB, 8L * MIB)).isTrue();

      pageCache.drop(file, 8L * MIB, Long.MAX_VALUE); // to the end of the file
      assertThat(cached(ch, 8L * MIB, 4L * MIB)).isFalse();
      assertThat(cached(ch, 4L * MIB, 4L * MIB)).isTrue();

      // Dropped is not lost: read back from the disk.
      ByteBuffer back = ByteBuffer.allocate(MIB);
      for (int i = 0; i < 12; i++) {
        back.clear();
        ch.read(back, (long) i * MIB);
        assertThat(back.array()[0]).isEqualTo((byte) ('a' + i));
        assertThat(back.array()[MIB - 1]).isEqualTo((byte) ('a' + i));
      }
    }
  }

  @Test
  void pagesNotYetOnDiskAreNeverDropped() throws Exception {
    Path file = dir.resolve("dirty");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap("x".repeat(4 * MIB).getBytes());
      while (b.hasRemaining()) {
        ch.write(b);
      }
      PageCache.system().drop(file, 0, Long.MAX_VALUE); // not forced: dirty pages stay
      ByteBuffer back = ByteBuffer.allocate(4 * MIB);
      ch.read(back, 0);
      assertThat(new String(back.array())).isEqualTo("x".repeat(4 * MIB));
    }
  }

  @Test
  void aMissingFileOrAnEmptyRangeIsIgnored() {
    PageCache.system().drop(dir.resolve("absent"), 0, Long.MAX_VALUE);
    PageCache.system().drop(dir.resolve("absent"), 5, 5);
    PageCache.NONE.drop(dir.resolve("absent"), 0, 1);
  }
}
