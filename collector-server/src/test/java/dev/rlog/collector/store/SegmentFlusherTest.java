package dev.rlog.collector.store;

import static dev.rlog.collector.store.TestRecords.grpcChunk;
import static dev.rlog.collector.store.TestRecords.records;
import static dev.rlog.collector.store.TestRecords.recordsOf;
import static dev.rlog.collector.store.TestRecords.tcpChunk;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.time.FakeClock;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The background force of the active segment, and how its errors reach the store writer. */
class SegmentFlusherTest {
  @TempDir Path dir;

  private static FileChannel open(FaultyFileChannel.Disk disk, Path file) throws IOException {
    return disk.opener().open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
  }

  @Test
  void forcesInTheBackgroundOnceAStepIsWritten() throws Exception {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    try (FileChannel ch = open(disk, dir.resolve("seg"));
        SegmentFlusher flusher = new SegmentFlusher(8)) {
      flusher.written(ch, 5);
      flusher.written(ch, 3);
      assertThat(disk.forced.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(disk.forces.get()).isEqualTo(1);
    }
  }

  @Test
  void aWriteBackErrorMetInTheBackgroundFailsTheWritersNextForceOfThatSegment() throws Exception {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    IOException eio = new IOException("Input/output error (write-back)");
    disk.forceError.set(eio);
    try (FileChannel ch = open(disk, dir.resolve("seg"));
        FileChannel next = open(disk, dir.resolve("next"));
        SegmentFlusher flusher = new SegmentFlusher(1)) {
      flusher.written(ch, 1);
      assertThat(disk.forced.await(30, TimeUnit.SECONDS)).isTrue();
      // Linux reports a write-back error to one fsync only: a second force would succeed.
      disk.forceError.set(null);
      IOException thrown = assertThrows(IOException.class, () -> flusher.force(ch));
      assertThat(thrown).hasCause(eio);
      assertThrows(IOException.class, () -> flusher.force(ch)); // and stays failed
      flusher.force(next); // another segment is not affected
    }
  }

  @Test
  void manyRotationsWhileForcingInTheBackgroundKeepEveryRecordOnceAndRecover() throws Exception {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    StoreOptions options = StoreOptions.defaults().withMaxSegmentBytes(256 << 10);
    // A 4 KiB step: the flusher forces after nearly every 16 KiB write, racing the writer's
    // rotations (it may find the segment closed under it) and its own forces.
    List<Chunk> chunks = new ArrayList<>();
    long first = 0;
    try (SegmentStore store =
        SegmentStore.open(dir, options, new FakeClock(), disk.opener(), 16 << 10, 4 << 10)) {
      for (int i = 0; i < 2_000; i++) {
        Chunk c = grpcChunk("a", "f", first, 1 + i % 37);
        chunks.add(c);
        store.append(List.of(c));
        first += 10L * (1 + i % 37);
      }
      assertThat(store.rotations()).isGreaterThan(20);
    }
    List<String> expected = recordsOf(chunks.toArray(Chunk[]::new));
    assertThat(records(dir)).containsExactlyElementsOf(expected);
    try (SegmentStore again = SegmentStore.open(dir, options, new FakeClock())) {
      assertThat(again.tornBytesDropped()).isZero();
      assertThat(again.committedOffset("a", "f")).isEqualTo(first - 10);
    }
    assertThat(records(dir)).containsExactlyElementsOf(expected);
  }

  @Test
  void theStoreFailsAtItsNextForcedCommitInsteadOfCommittingOverLostBytes() throws Exception {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    SegmentStore store = SegmentStore.open(dir,
        StoreOptions.defaults().withMaxSegmentBytes(16L << 20), new FakeClock(),
        disk.opener(), 1 << 20);
    try {
      String big = "x".repeat(9 << 20); // past the flusher's 8 MiB step: forced in the background
      disk.forceError.set(new IOException("Input/output error (write-back)"));
      store.append(List.of(tcpChunk(big))); // fsync: never, so the commit itself does not force
      assertThat(disk.forced.await(30, TimeUnit.SECONDS)).isTrue();
      disk.forceError.set(null);
      // The next chunk does not fit: the full segment must be forced before the next one is
      // created, and that force must report the lost write-back.
      assertThrows(IOException.class, () -> store.append(List.of(tcpChunk(big))));
      assertThat(store.isFailed()).isTrue();
      assertThat(records(dir)).hasSize(1);
    } finally {
      assertThrows(IOException.class, store::close); // its last checkpoint cannot force either
    }
  }
}
