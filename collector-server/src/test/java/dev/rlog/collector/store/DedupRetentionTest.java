package dev.rlog.collector.store;

import static dev.rlog.collector.store.TestRecords.grpcChunk;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.collector.grpc.PositionFilter;
import dev.rlog.common.time.FakeClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Retention and the instance cap across the store: checkpoint, restart, recovery scan. */
class DedupRetentionTest {
  private static final Duration RETENTION = Duration.ofDays(7);

  @TempDir Path dir;

  private final FakeClock clock = new FakeClock(TestRecords.RECV_MILLIS);
  private final List<SegmentStore> opened = new ArrayList<>();

  @AfterEach
  void closeAll() throws IOException {
    for (SegmentStore s : opened) {
      s.close();
    }
  }

  private SegmentStore open(int maxInstances) throws IOException {
    SegmentStore s = SegmentStore.open(dir,
        StoreOptions.defaults().withDedup(RETENTION, maxInstances), clock);
    opened.add(s);
    return s;
  }

  private Path checkpointFile() {
    return dir.resolve(SegmentStore.CHECKPOINT_FILE);
  }

  @Test
  void checkpointRoundTripKeepsOffsetsTimesAndOrder() throws IOException {
    long t = clock.currentTimeMillis();
    Checkpoint cp = new Checkpoint("segment-00000000000000000003.jsonl", 42, List.of(
        new PositionTable.Committed("a1", "f \"quoted\"", 7, t - 2000),
        new PositionTable.Committed("a2", "g", 8, t - 1000),
        new PositionTable.Committed("a1", "h", 9, t)));
    cp.write(checkpointFile());
    assertThat(Files.readString(checkpointFile())).contains("\"version\":2");

    assertThat(Checkpoint.read(checkpointFile())).isEqualTo(cp);
  }

  @Test
  void aVersionOneCheckpointIsReadItsEntriesLiveOneRetentionAndTheNextIsVersionTwo()
      throws IOException {
    SegmentStore first = open(100);
    String segment = first.currentSegment();
    first.close();
    opened.clear();
    Files.writeString(checkpointFile(), "{\"version\":1,\"segment\":\"" + segment
        + "\",\"offset\":0,\"positions\":{\"a\":{\"f\":12,\"g\":34}}}");

    SegmentStore store = open(100);
    assertThat(store.committedPositions()).isEqualTo(Map.of("a", Map.of("f", 12L, "g", 34L)));
    store.append(List.of(grpcChunk("a", "f", 13, 1)));
    store.checkpoint();
    Checkpoint cp = Checkpoint.read(checkpointFile());
    assertThat(Files.readString(checkpointFile())).contains("\"version\":2");
    assertThat(cp.positions()).extracting(PositionTable.Committed::advancedAtMillis)
        .containsOnly(clock.currentTimeMillis());

    clock.advance(RETENTION);
    assertThat(store.committedPositions()).isEmpty();
  }

  @Test
  void badTimedEntriesMakeTheCheckpointUnusable() throws IOException {
    for (String bad : List.of("12", "[12]", "[12,\"x\"]", "[12,3,4]", "{\"off\":1}")) {
      Files.writeString(checkpointFile(), "{\"version\":2,\"segment\":"
          + "\"segment-00000000000000000000.jsonl\",\"offset\":0,\"positions\":{\"a\":{\"f\":"
          + bad + "}}}");
      assertThrows(Checkpoint.InvalidCheckpointException.class,
          () -> Checkpoint.read(checkpointFile()), bad);
    }
  }

  @Test
  void expiryGoesOnAcrossARestart() throws IOException {
    SegmentStore store = open(100);
    store.append(List.of(grpcChunk("a", "f", 0, 3)));
    clock.advance(Duration.ofDays(3));
    store.append(List.of(grpcChunk("a", "g", 0, 3)));
    store.close();
    opened.clear();

    clock.advance(Duration.ofDays(5)); // f last advanced 8 days ago, g 5 days ago
    SegmentStore reopened = open(100);
    assertThat(reopened.committedPositions()).isEqualTo(Map.of("a", Map.of("g", 20L)));
    assertThat(reopened.positions().expired()).isEqualTo(1);
    clock.advance(Duration.ofDays(2));
    assertThat(reopened.committedOffset("a", "g")).isEqualTo(-1);
  }

  @Test
  void recoveryAfterTheCheckpointRebuildsPositionsTimedByTheirReceiveTime() throws IOException {
    SegmentStore store = open(100);
    store.append(List.of(grpcChunk("a", "early", 0, 1)));
    store.checkpoint();
    store.append(List.of(grpcChunk("a", "late", 5, 2))); // after the checkpoint: scanned
    // crash: no close. The records carry recv = RECV_MILLIS, the clock's start.

    clock.advance(Duration.ofDays(1));
    SegmentStore reopened = open(100);
    assertThat(reopened.committedPositions())
        .isEqualTo(Map.of("a", Map.of("early", 0L, "late", 15L)));
    opened.remove(reopened);
    reopened.close();

    clock.advance(Duration.ofDays(6)); // both advanced exactly one retention ago
    assertThat(open(100).committedPositions()).isEmpty();
  }

  @Test
  void aFullScanOfALongHistoryStaysWithinTheCap() throws IOException {
    SegmentStore store = open(1000);
    for (int i = 0; i < 30; i++) {
      store.append(List.of(grpcChunk("a", "f" + i, 0, 1)));
    }
    store.close();
    opened.clear();
    Files.delete(checkpointFile());

    SegmentStore reopened = open(10);
    assertThat(reopened.positions().size()).isEqualTo(10);
    assertThat(reopened.committedPositions().get("a")).containsOnlyKeys(
        "f20", "f21", "f22", "f23", "f24", "f25", "f26", "f27", "f28", "f29");
    assertThat(reopened.positions().evictedForCapacity()).isEqualTo(20);
  }

  /**
   * The bound: a million distinct file instances (a buggy or hostile client) through the
   * filter and the store's commit keep the table at the cap, and the checkpoint bounded.
   */
  @Test
  void aMillionDistinctInstancesKeepTheTableAndTheCheckpointAtTheCap() throws IOException {
    int cap = StoreOptions.DEFAULT_DEDUP_MAX_INSTANCES;
    PositionTable table = new PositionTable(clock, RETENTION, cap);
    PositionFilter filter = new PositionFilter(table);
    int maxSeen = 0;
    for (int i = 0; i < 1_000_000; i++) {
      String agent = "agent-" + (i % 100);
      String fid = "803:" + (1_000_000 + i) + ":0123456789abcdef:n" + i;
      boolean admitted = filter.withAgent(agent, p -> {
        boolean ok = p.admit(fid, 0);
        p.commit();
        return ok;
      });
      assertThat(admitted).isTrue();
      table.commit(List.of(new Chunk.Position(agent, fid, 0))); // the store commits it
      if ((i & 0xfff) == 0) {
        maxSeen = Math.max(maxSeen, table.size());
      }
    }
    assertThat(maxSeen).isLessThanOrEqualTo(cap);
    assertThat(table.size()).isEqualTo(cap);
    assertThat(table.evictedForCapacity()).isEqualTo(1_000_000 - cap);

    new Checkpoint("segment-00000000000000000000.jsonl", 0, table.committedSnapshot())
        .write(checkpointFile());
    long bytes = Files.size(checkpointFile());
    System.out.printf("checkpoint of %d entries: %d bytes (%.1f bytes/entry)%n",
        cap, bytes, (double) bytes / cap);
    assertThat(bytes).isLessThan(cap * 100L);
    assertThat(Checkpoint.read(checkpointFile()).positions()).hasSize(cap);
  }
}
