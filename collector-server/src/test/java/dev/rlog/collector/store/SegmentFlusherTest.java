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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
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
      flusher.written(ch, dir.resolve("seg"), 5);
      flusher.written(ch, dir.resolve("seg"), 8);
      assertThat(disk.forced.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(disk.forces.get()).isEqualTo(1);
    }
  }

  /** A drop the flusher asked for, with the number of forces done by then. */
  private record Drop(String file, long from, long to, int forcesBefore) {}

  /** A page cache that records each drop asked of it, by file name, into {@code drops}. */
  private static PageCache.Dropper recordingInto(BlockingQueue<Drop> drops,
      FaultyFileChannel.Disk disk) {
    return (file, from, to) ->
        drops.add(new Drop(file.getFileName().toString(), from, to, disk.forces.get()));
  }

  @Test
  void dropsOnlyForcedBytesButTheLastKeptOnesAndARotatedSegmentWhole() throws Exception {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    BlockingQueue<Drop> drops = new LinkedBlockingQueue<>();
    PageCache.Dropper recording = recordingInto(drops, disk);
    Path seg = dir.resolve("seg");
    Path next = dir.resolve("next");
    try (FileChannel ch = open(disk, seg);
        FileChannel ch2 = open(disk, next);
        SegmentFlusher flusher = new SegmentFlusher(8, recording, 4)) {
      flusher.written(ch, seg, 5); // below the step: nothing forced, nothing dropped
      flusher.written(ch, seg, 10);
      Drop first = drops.poll(30, TimeUnit.SECONDS);
      assertThat(first).isEqualTo(new Drop("seg", 0, 6, 1)); // forced 10, keeps the last 4
      flusher.written(ch, seg, 20);
      Drop second = drops.poll(30, TimeUnit.SECONDS);
      assertThat(second).isEqualTo(new Drop("seg", 6, 16, 2)); // from where the last one ended
      // A new channel: the writer rotated (and forced "seg" before): the rest of it goes.
      flusher.written(ch2, next, 3);
      assertThat(drops.poll(30, TimeUnit.SECONDS))
          .isEqualTo(new Drop("seg", 16, Long.MAX_VALUE, 2));
      flusher.written(ch2, next, 6); // 6 unforced, below the step
      flusher.force(ch2); // the writer's own force (the 3rd) resets the step, drops nothing
      flusher.written(ch2, next, 12); // 6 unforced again
      flusher.written(ch2, next, 20); // 14: the 4th force; had anything come between, it would
      assertThat(drops.poll(30, TimeUnit.SECONDS)) // be what is polled here
          .isEqualTo(new Drop("next", 0, 16, 4));
    }
    assertThat(drops).isEmpty();
  }

  @Test
  void whatTheWritersOwnForcesPutOnDiskIsDroppedToo() throws Exception {
    // fsync: always forces at every commit, so the background step is never reached.
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    BlockingQueue<Drop> drops = new LinkedBlockingQueue<>();
    PageCache.Dropper recording = recordingInto(drops, disk);
    Path seg = dir.resolve("seg");
    try (FileChannel ch = open(disk, seg);
        SegmentFlusher flusher = new SegmentFlusher(8, recording, 4)) {
      flusher.written(ch, seg, 6);
      flusher.force(ch); // 6 - 4 kept: 2 could go, less than a step: nothing yet
      flusher.written(ch, seg, 13);
      flusher.force(ch); // 13 - 4 = 9: a step's worth; had the first force dropped, it would
      assertThat(drops.poll(30, TimeUnit.SECONDS)) // be what is polled here
          .isEqualTo(new Drop("seg", 0, 9, 2));
      flusher.written(ch, seg, 19);
      flusher.force(ch); // 15 - 9: less than a step since the last drop
      flusher.written(ch, seg, 26); // 7 unforced: still below the background step
      flusher.force(ch); // 22 - 9: a step's worth again
      assertThat(drops.poll(30, TimeUnit.SECONDS)).isEqualTo(new Drop("seg", 9, 22, 4));
      assertThat(disk.forces.get()).isEqualTo(4); // all by the writer: no background force
    }
    assertThat(drops).isEmpty();
  }

  @Test
  void aSegmentWhoseBackgroundForceFailedIsNotDropped() throws Exception {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    disk.forceError.set(new IOException("Input/output error (write-back)"));
    BlockingQueue<Drop> drops = new LinkedBlockingQueue<>();
    try (FileChannel ch = open(disk, dir.resolve("seg"));
        SegmentFlusher flusher = new SegmentFlusher(1, recordingInto(drops, disk), 0)) {
      flusher.written(ch, dir.resolve("seg"), 100);
      assertThat(disk.forced.await(30, TimeUnit.SECONDS)).isTrue();
      flusher.written(ch, dir.resolve("seg"), 200); // the next step is not even forced
    }
    assertThat(drops).isEmpty();
  }

  @Test
  void aWriteBackErrorMetInTheBackgroundFailsTheWritersNextForceOfThatSegment() throws Exception {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    IOException eio = new IOException("Input/output error (write-back)");
    disk.forceError.set(eio);
    try (FileChannel ch = open(disk, dir.resolve("seg"));
        FileChannel next = open(disk, dir.resolve("next"));
        SegmentFlusher flusher = new SegmentFlusher(1)) {
      flusher.written(ch, dir.resolve("seg"), 1);
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
