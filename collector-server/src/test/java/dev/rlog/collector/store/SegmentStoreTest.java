package dev.rlog.collector.store;

import static dev.rlog.collector.store.TestRecords.chunk;
import static dev.rlog.collector.store.TestRecords.grpc;
import static dev.rlog.collector.store.TestRecords.grpcChunk;
import static dev.rlog.collector.store.TestRecords.records;
import static dev.rlog.collector.store.TestRecords.recordsOf;
import static dev.rlog.collector.store.TestRecords.segments;
import static dev.rlog.collector.store.TestRecords.tcp;
import static dev.rlog.collector.store.TestRecords.tcpChunk;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.time.FakeClock;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SegmentStoreTest {
  @TempDir Path dir;

  /** Stores to close after the test; a "crashed" store is simply never closed before reopen. */
  private final List<SegmentStore> opened = new ArrayList<>();

  @AfterEach
  void closeAll() throws IOException {
    for (SegmentStore s : opened) {
      s.close();
    }
  }

  /** Near the records' receive time: recovery expires positions by it. */
  private final FakeClock clock = new FakeClock(TestRecords.RECV_MILLIS + 60_000);

  private SegmentStore open(StoreOptions options) throws IOException {
    SegmentStore store = SegmentStore.open(dir, options, clock);
    opened.add(store);
    return store;
  }

  private PositionTable.Committed committed(String agent, String fid, long offset) {
    return new PositionTable.Committed(agent, fid, offset, clock.currentTimeMillis());
  }

  private SegmentStore open() throws IOException {
    return open(StoreOptions.defaults());
  }

  @Test
  void createsDirectoryAndFirstSegment() throws IOException {
    dir = dir.resolve("nested/data");
    SegmentStore store = open();
    assertThat(store.currentSegment()).isEqualTo("segment-00000000000000000000.jsonl");
    assertThat(dir.resolve(store.currentSegment())).exists().isEmptyFile();
  }

  @Test
  void recordsLandInOrderAndCountersAdd() throws IOException {
    SegmentStore store = open();
    Chunk a = tcpChunk("one", "two");
    Chunk b = grpcChunk("agent-1", "f1", 100, 3);
    Chunk c = tcpChunk("\u00e9t\u00e9 \"quoted\"");
    store.append(List.of(a, b));
    store.append(List.of(c));

    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(a, b, c));
    assertThat(store.recordsWritten()).isEqualTo(6);
    assertThat(store.bytesWritten()).isEqualTo(a.length() + b.length() + c.length());
    assertThat(store.currentSegmentBytes()).isEqualTo(store.bytesWritten());
    assertThat(store.rotations()).isZero();
    assertThat(store.committedOffset("agent-1", "f1")).isEqualTo(120);
  }

  @Test
  void emptyAppendAndPositionOnlyChunks() throws IOException {
    SegmentStore store = open();
    store.append(List.of());
    store.append(List.of(new Chunk(new byte[0], 0, 0,
        List.of(new Chunk.Position("a", "f", 42)))));
    assertThat(store.bytesWritten()).isZero();
    assertThat(store.committedOffset("a", "f")).isEqualTo(42);
    assertThat(store.committedOffset("a", "other")).isEqualTo(-1);
    assertThat(store.committedOffset("nobody", "f")).isEqualTo(-1);
  }

  @Test
  void rotatesAtMaxSizeWithoutSplittingRecords() throws IOException {
    SegmentStore store = open(StoreOptions.defaults().withMaxSegmentBytes(1000));
    List<Chunk> chunks = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      chunks.add(tcpChunk("record " + i, "second of " + i)); // ~190 bytes each
    }
    // Rotation happens inside one append as well as between appends.
    store.append(chunks.subList(0, 12));
    store.append(chunks.subList(12, 20));

    List<Path> segments = segments(dir);
    assertThat(segments).hasSizeGreaterThan(3);
    assertThat(store.rotations()).isEqualTo(segments.size() - 1);
    assertThat(store.currentSegment())
        .isEqualTo(segments.get(segments.size() - 1).getFileName().toString());
    for (Path segment : segments) {
      assertThat(Files.size(segment)).isLessThanOrEqualTo(1000);
      assertThat(TestRecords.read(segment)).endsWith("\n");
    }
    // Each segment was filled until the next chunk no longer fit.
    for (int i = 0; i < segments.size() - 1; i++) {
      assertThat(Files.size(segments.get(i))).isGreaterThan(1000 - chunks.get(0).length() - 20);
    }
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(chunks.toArray(Chunk[]::new)));
    assertThat(segments.stream().map(p -> p.getFileName().toString()).toList())
        .isSorted()
        .first().isEqualTo("segment-00000000000000000000.jsonl");
  }

  @Test
  void oversizedChunkMakesASegmentAlone() throws IOException {
    SegmentStore store = open(StoreOptions.defaults().withMaxSegmentBytes(300));
    Chunk small = tcpChunk("small");
    Chunk huge = tcpChunk("h".repeat(1000));
    store.append(List.of(small, huge, small));

    List<Path> segments = segments(dir);
    assertThat(segments).hasSize(3);
    assertThat(TestRecords.read(segments.get(0))).isEqualTo(tcp("small"));
    assertThat(TestRecords.read(segments.get(1))).isEqualTo(tcp("h".repeat(1000)));
    assertThat(TestRecords.read(segments.get(2))).isEqualTo(tcp("small"));
  }

  @Test
  void chunksLargerThanTheWriteBufferAreWrittenWhole() throws IOException {
    SegmentStore store =
        SegmentStore.open(dir, StoreOptions.defaults(), clock, FileChannel::open, 64);
    opened.add(store);
    List<Chunk> chunks = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      chunks.add(tcpChunk("p".repeat(i * 7), "q" + i));
    }
    store.append(chunks);
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(chunks.toArray(Chunk[]::new)));
  }

  @Test
  void reopenContinuesInTheLastSegmentThenRotatesOnward() throws IOException {
    StoreOptions options = StoreOptions.defaults().withMaxSegmentBytes(500);
    SegmentStore first = open(options);
    Chunk a = tcpChunk("a1", "a2");
    first.append(List.of(a));
    first.close();

    SegmentStore second = open(options);
    assertThat(second.currentSegment()).isEqualTo(first.currentSegment());
    assertThat(second.currentSegmentBytes()).isEqualTo(a.length());
    Chunk b = tcpChunk("b1");
    second.append(List.of(b));
    assertThat(segments(dir)).hasSize(1);
    Chunk c = tcpChunk("c".repeat(400));
    second.append(List.of(c));

    assertThat(segments(dir)).hasSize(2);
    assertThat(second.currentSegment()).isEqualTo("segment-00000000000000000001.jsonl");
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(a, b, c));
  }

  @Test
  void tornLastRecordIsCutAndEarlierRecordsKept() throws IOException {
    SegmentStore store = open(StoreOptions.defaults().withMaxSegmentBytes(400));
    Chunk a = grpcChunk("a", "f", 0, 2);
    Chunk b = grpcChunk("a", "f", 20, 2);
    store.append(List.of(a, b)); // two segments
    Path last = dir.resolve(store.currentSegment());
    String torn = grpc("a", "f", 999, "never acknowledged").substring(0, 150);
    Files.writeString(last, torn, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    // crash: the store is not closed

    SegmentStore reopened = open(StoreOptions.defaults().withMaxSegmentBytes(400));

    assertThat(reopened.tornBytesDropped()).isEqualTo(torn.getBytes(StandardCharsets.UTF_8).length);
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(a, b));
    assertThat(reopened.committedOffset("a", "f")).isEqualTo(30);
    assertThat(reopened.unreadableRecords()).isZero();
    Chunk c = tcpChunk("after recovery");
    reopened.append(List.of(c));
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(a, b, c));
  }

  @Test
  void lastSegmentWithoutAnyNewlineIsCutToEmpty() throws IOException {
    Files.createDirectories(dir);
    Path segment = dir.resolve("segment-00000000000000000004.jsonl");
    Files.writeString(segment, "{\"recv\":\"2026-11-21T22:0");

    SegmentStore store = open();

    assertThat(store.currentSegment()).isEqualTo(segment.getFileName().toString());
    assertThat(store.tornBytesDropped()).isEqualTo(24);
    assertThat(segment).isEmptyFile();
  }

  @Test
  void positionsSurviveACrashViaCheckpointPlusTailScan() throws IOException {
    StoreOptions options = StoreOptions.defaults().withMaxSegmentBytes(2000);
    SegmentStore store = open(options);
    store.append(List.of(grpcChunk("a1", "f1", 100, 3), grpcChunk("a2", "f9", 0, 1)));
    store.checkpoint();
    // after the checkpoint: more for a1/f1, a new file instance, enough to rotate twice
    for (int i = 0; i < 10; i++) {
      store.append(List.of(grpcChunk("a1", "f1", 1000 + 100L * i, 3)));
    }
    store.append(List.of(grpcChunk("a1", "f2", 5, 1), tcpChunk("tcp in between")));
    assertThat(store.rotations()).isGreaterThan(0);
    Map<String, Map<String, Long>> before = store.committedPositions();
    assertThat(before).isEqualTo(Map.of(
        "a1", Map.of("f1", 1920L, "f2", 5L),
        "a2", Map.of("f9", 0L)));
    // crash: no close, no final checkpoint. The file on disk is older than the store.
    Checkpoint onDisk = Checkpoint.read(dir.resolve(SegmentStore.CHECKPOINT_FILE));
    assertThat(onDisk.offsets().get("a1").get("f1")).isLessThan(1920L);

    SegmentStore reopened = open(options);

    assertThat(reopened.committedPositions()).isEqualTo(before);
    assertThat(reopened.unreadableRecords()).isZero();
  }

  @Test
  void positionsAreRebuiltFromAllSegmentsWithoutCheckpoint() throws IOException {
    StoreOptions options = StoreOptions.defaults().withMaxSegmentBytes(600);
    SegmentStore store = open(options);
    for (int i = 0; i < 6; i++) {
      store.append(List.of(grpcChunk("a", "f", 10L * i, 1), tcpChunk("t" + i)));
    }
    Map<String, Map<String, Long>> before = store.committedPositions();
    store.close();
    Files.delete(dir.resolve(SegmentStore.CHECKPOINT_FILE));

    assertThat(open(options).committedPositions()).isEqualTo(before);
  }

  @Test
  void corruptCheckpointFallsBackToFullScan() throws IOException {
    SegmentStore store = open();
    store.append(List.of(grpcChunk("a", "f", 7, 1)));
    store.close();
    Files.writeString(dir.resolve(SegmentStore.CHECKPOINT_FILE), "{\"version\":1,\"segm");

    assertThat(open().committedOffset("a", "f")).isEqualTo(7);
  }

  @Test
  void checkpointNamingMoreBytesThanTheSegmentHoldsIsDistrusted() throws IOException {
    SegmentStore store = open();
    store.append(List.of(grpcChunk("a", "f", 7, 1)));
    store.close();
    new Checkpoint(store.currentSegment(), 1_000_000, List.of(committed("a", "f", 99_999L)))
        .write(dir.resolve(SegmentStore.CHECKPOINT_FILE));

    assertThat(open().committedPositions()).isEqualTo(Map.of("a", Map.of("f", 7L)));
  }

  @Test
  void checkpointOfARemovedSegmentStillCounts() throws IOException {
    StoreOptions options = StoreOptions.defaults().withMaxSegmentBytes(300);
    SegmentStore store = open(options);
    store.append(List.of(grpcChunk("a", "old", 1, 1)));
    store.append(List.of(grpcChunk("a", "old", 2, 1)));
    store.checkpoint(); // names segment 1
    store.append(List.of(grpcChunk("a", "new", 3, 1))); // segment 2
    store.close();
    List<Path> segments = segments(dir);
    assertThat(segments).hasSize(3);
    // Retention removes the two older segments, and with them the lines of "old". The stale
    // checkpoint is restored to prove it still counts for what was removed.
    new Checkpoint("segment-00000000000000000001.jsonl", 0, List.of(committed("a", "old", 2L)))
        .write(dir.resolve(SegmentStore.CHECKPOINT_FILE));
    Files.delete(segments.get(0));
    Files.delete(segments.get(1));

    SegmentStore reopened = open(options);

    assertThat(reopened.committedPositions())
        .isEqualTo(Map.of("a", Map.of("old", 2L, "new", 3L)));
    assertThat(reopened.currentSegment()).isEqualTo("segment-00000000000000000002.jsonl");
  }

  @Test
  void whenNewestSegmentsAreGoneNewNamesStillSortAfterTheCheckpoint() throws IOException {
    SegmentStore store = open(StoreOptions.defaults().withMaxSegmentBytes(300));
    store.append(List.of(grpcChunk("a", "f", 1, 1), grpcChunk("a", "f", 2, 1)));
    store.close(); // checkpoint names segment 1
    for (Path segment : segments(dir)) {
      Files.delete(segment);
    }

    SegmentStore reopened = open();

    assertThat(reopened.currentSegment()).isEqualTo("segment-00000000000000000002.jsonl");
    assertThat(reopened.committedOffset("a", "f")).isEqualTo(2);
  }

  @Test
  void unreadableRecordsAreCountedAndSkipped() throws IOException {
    SegmentStore store = open();
    store.append(List.of(
        grpcChunk("a", "f", 1, 1),
        chunk(List.of("not json\n", "{\"broken\":\n")),
        grpcChunk("a", "f", 2, 1)));
    store.close();
    Files.delete(dir.resolve(SegmentStore.CHECKPOINT_FILE));

    SegmentStore reopened = open();

    assertThat(reopened.unreadableRecords()).isEqualTo(2);
    assertThat(reopened.committedOffset("a", "f")).isEqualTo(2);
  }

  @Test
  void checkpointIsSkippedWhenNothingChanged() throws IOException {
    SegmentStore store = open();
    store.append(List.of(grpcChunk("a", "f", 1, 1)));
    store.checkpoint();
    Path file = dir.resolve(SegmentStore.CHECKPOINT_FILE);
    Files.delete(file);
    store.checkpoint();
    assertThat(file).doesNotExist();
    store.append(List.of(tcpChunk("x")));
    store.checkpoint();
    Checkpoint cp = Checkpoint.read(file);
    assertThat(cp.segment()).isEqualTo(store.currentSegment());
    assertThat(cp.offset()).isEqualTo(store.currentSegmentBytes());
    assertThat(cp.offsets()).isEqualTo(Map.of("a", Map.of("f", 1L)));
  }

  @Test
  void committedPositionsIsAnImmutableSnapshot() throws IOException {
    SegmentStore store = open();
    store.append(List.of(grpcChunk("a", "f", 1, 1)));
    Map<String, Map<String, Long>> snapshot = store.committedPositions();
    store.append(List.of(grpcChunk("a", "f", 50, 1)));
    assertThat(snapshot.get("a").get("f")).isEqualTo(1L);
    assertThrows(UnsupportedOperationException.class, () -> snapshot.put("b", Map.of()));
    assertThrows(UnsupportedOperationException.class, () -> snapshot.get("a").put("g", 1L));
  }

  @Test
  void fsyncAlwaysForcesEveryAppendNeverOnlyOnRotationAndCheckpoint() throws IOException {
    FaultyFileChannel.Disk always = new FaultyFileChannel.Disk();
    SegmentStore durable = SegmentStore.open(dir.resolve("always"),
        StoreOptions.defaults().withFsync(FsyncPolicy.ALWAYS), clock, always.opener(), 1 << 16);
    opened.add(durable);
    durable.append(List.of(tcpChunk("a")));
    durable.append(List.of(tcpChunk("b"), tcpChunk("c")));
    assertThat(always.forces.get()).isEqualTo(2);
    assertThat(records(dir.resolve("always"))).containsExactlyElementsOf(
        recordsOf(tcpChunk("a"), tcpChunk("b"), tcpChunk("c")));

    FaultyFileChannel.Disk never = new FaultyFileChannel.Disk();
    SegmentStore fast = SegmentStore.open(dir.resolve("never"),
        StoreOptions.defaults(), clock, never.opener(), 1 << 16);
    opened.add(fast);
    fast.append(List.of(tcpChunk("a")));
    fast.append(List.of(tcpChunk("b"), tcpChunk("c")));
    assertThat(never.forces.get()).isZero();
    assertThat(never.writeCalls.get()).isEqualTo(2); // one write per append
    fast.checkpoint();
    assertThat(never.forces.get()).isEqualTo(1);
  }

  @Test
  void diskFullFailsTheStoreAndCutsBackToTheCommitPoint() throws IOException {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    SegmentStore store =
        SegmentStore.open(dir, StoreOptions.defaults(), clock, disk.opener(), 1 << 16);
    opened.add(store);
    Chunk a = grpcChunk("a", "f", 0, 2);
    store.append(List.of(a));
    disk.fillUpAfter(30); // the next write lands 30 bytes, then the disk is full

    IOException error = assertThrows(IOException.class,
        () -> store.append(List.of(grpcChunk("a", "f", 100, 2))));

    assertThat(error).hasMessageContaining("No space left");
    assertThat(store.isFailed()).isTrue();
    assertThat(Files.size(dir.resolve(store.currentSegment()))).isEqualTo(a.length());
    assertThat(store.committedOffset("a", "f")).isEqualTo(10);
    assertThat(store.bytesWritten()).isEqualTo(a.length());
    disk.fillUpAfter(Long.MAX_VALUE);
    IOException again = assertThrows(IOException.class,
        () -> store.append(List.of(tcpChunk("x"))));
    assertThat(again).hasMessageContaining("failed earlier").hasCause(error);
    store.close();

    SegmentStore reopened = open();
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(a));
    assertThat(reopened.committedOffset("a", "f")).isEqualTo(10);
  }

  @Test
  void chunksCommittedIntoARotatedSegmentBeforeAFailureKeepTheirPositions() throws IOException {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    SegmentStore store = SegmentStore.open(dir, StoreOptions.defaults().withMaxSegmentBytes(300),
        clock, disk.opener(), 1 << 16);
    opened.add(store);
    Chunk first = grpcChunk("a", "f", 0, 1);
    Chunk second = grpcChunk("a", "f", 10, 1);
    disk.fillUpAfter(first.length() + 20); // second gets a new segment and only 20 bytes of it

    assertThrows(IOException.class, () -> store.append(List.of(first, second)));

    // first is stored (in the rotated segment) though never acknowledged: its position counts,
    // so a re-sent copy is recognised; second's partial bytes are gone.
    assertThat(store.committedOffset("a", "f")).isEqualTo(0);
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(first));
  }

  @Test
  void closeIsIdempotentAndAppendAfterCloseIsRejected() throws IOException {
    SegmentStore store = SegmentStore.open(dir, StoreOptions.defaults(), clock);
    store.close();
    store.close();
    assertThrows(IllegalStateException.class, () -> store.append(List.of(tcpChunk("x"))));
  }

  @Test
  void segmentNames() {
    assertThat(SegmentStore.nameOf(42)).isEqualTo("segment-00000000000000000042.jsonl");
    assertThat(SegmentStore.sequenceOf("segment-00000000000000000042.jsonl")).isEqualTo(42);
    assertThat(SegmentStore.sequenceOf("segment-42.jsonl")).isEqualTo(-1);
    assertThat(SegmentStore.sequenceOf("positions.json")).isEqualTo(-1);
    assertThat(SegmentStore.sequenceOf("segment-99999999999999999999.jsonl")).isEqualTo(-1);
  }
}
