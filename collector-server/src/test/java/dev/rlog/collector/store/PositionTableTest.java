package dev.rlog.collector.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.time.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PositionTableTest {
  private static final Duration RETENTION = Duration.ofDays(7);
  private static final Duration MS = Duration.ofMillis(1);

  private final FakeClock clock = new FakeClock();

  private PositionTable table(int max) {
    return new PositionTable(clock, RETENTION, max);
  }

  private static void accept(PositionTable t, String agent, String fid, long off) {
    t.accept(agent, Map.of(fid, off));
  }

  @Test
  void anInstanceIsForgottenRetentionAfterItLastAdvanced() {
    PositionTable t = table(10);
    accept(t, "a", "f", 100);
    clock.advance(RETENTION.minus(MS));
    assertThat(t.accepted("a", "f")).isEqualTo(100);
    clock.advance(MS);
    assertThat(t.accepted("a", "f")).isEqualTo(-1);
    assertThat(t.size()).isZero();
    assertThat(t.expired()).isEqualTo(1);
    assertThat(t.evictedForCapacity()).isZero();
  }

  @Test
  void anAdvanceRestartsTheWindowButALookupOrAnOldOffsetDoesNot() {
    PositionTable t = table(10);
    accept(t, "a", "f", 100);
    accept(t, "a", "g", 100);
    clock.advance(Duration.ofDays(6));
    accept(t, "a", "f", 200); // advanced
    accept(t, "a", "g", 50); // not an advance
    t.accepted("a", "g"); // a lookup (a re-send being checked) is not an advance either
    t.commit(List.of(new Chunk.Position("a", "g", 100))); // committing what was accepted: no
    clock.advance(Duration.ofDays(2));
    assertThat(t.accepted("a", "f")).isEqualTo(200);
    assertThat(t.accepted("a", "g")).isEqualTo(-1);
  }

  @Test
  void pastTheCapTheLeastRecentlyAdvancedGoesFirst() {
    PositionTable t = table(3);
    accept(t, "a", "f1", 1);
    clock.advance(MS);
    accept(t, "b", "f2", 1);
    clock.advance(MS);
    accept(t, "a", "f3", 1);
    clock.advance(MS);
    accept(t, "a", "f1", 2); // f1 is now the most recent; f2 the least
    accept(t, "c", "f4", 1);
    assertThat(t.accepted("b", "f2")).isEqualTo(-1);
    assertThat(t.size()).isEqualTo(3);
    accept(t, "c", "f5", 1);
    assertThat(t.accepted("a", "f3")).isEqualTo(-1);
    assertThat(t.accepted("a", "f1")).isEqualTo(2);
    assertThat(t.accepted("c", "f4")).isEqualTo(1);
    assertThat(t.accepted("c", "f5")).isEqualTo(1);
    assertThat(t.evictedForCapacity()).isEqualTo(2);
    assertThat(t.evictions(PositionTable.Eviction.CAPACITY)).isEqualTo(2);
    assertThat(t.expired()).isZero();
  }

  @Test
  void committedTrailsAcceptedAndTheSnapshotHoldsOnlyCommittedOldestFirst() {
    PositionTable t = table(10);
    accept(t, "a", "f", 10);
    clock.advance(MS);
    t.commit(List.of(new Chunk.Position("b", "g", 5))); // the store alone (no filter) also counts
    assertThat(t.accepted("a", "f")).isEqualTo(10);
    assertThat(t.committed("a", "f")).isEqualTo(-1);
    assertThat(t.committedSnapshot()).containsExactly(
        new PositionTable.Committed("b", "g", 5, clock.currentTimeMillis()));
    t.commit(List.of(new Chunk.Position("a", "f", 10)));
    long t0 = clock.currentTimeMillis() - 1;
    assertThat(t.committedSnapshot()).containsExactly(
        new PositionTable.Committed("a", "f", 10, t0),
        new PositionTable.Committed("b", "g", 5, t0 + 1));
    assertThat(t.committedPositions())
        .isEqualTo(Map.of("a", Map.of("f", 10L), "b", Map.of("g", 5L)));
  }

  @Test
  void aWallClockSteppingBackKeepsTheOrder() {
    PositionTable t = table(10);
    accept(t, "a", "f", 1);
    FakeClock back = new FakeClock(clock.currentTimeMillis() - 60_000);
    PositionTable same = new PositionTable(back, RETENTION, 10);
    same.restore("a", "new", 1, clock.currentTimeMillis());
    same.restore("a", "old", 1, back.currentTimeMillis()); // older than the newest: not before it
    List<PositionTable.Committed> snap = same.committedSnapshot();
    assertThat(snap).extracting(PositionTable.Committed::fileInstance)
        .containsExactly("new", "old");
    assertThat(snap.get(1).advancedAtMillis()).isEqualTo(clock.currentTimeMillis());
  }

  @Test
  void restoredEntriesKeepTheirTimesAndUnknownTimesCountFromNow() {
    PositionTable t = table(10);
    long now = clock.currentTimeMillis();
    t.restore("a", "old", 7, now - RETENTION.toMillis()); // already expired
    t.restore("a", "day", 8, now - Duration.ofDays(1).toMillis());
    t.restore("a", "unknown", 9, Checkpoint.UNKNOWN_TIME);
    assertThat(t.committedPositions()).isEqualTo(Map.of("a", Map.of("day", 8L, "unknown", 9L)));
    clock.advance(Duration.ofDays(6));
    assertThat(t.committedPositions()).isEqualTo(Map.of("a", Map.of("unknown", 9L)));
  }

  @Test
  void settingsAreValidated() {
    assertThrows(IllegalArgumentException.class, () -> new PositionTable(clock, Duration.ZERO, 1));
    assertThrows(IllegalArgumentException.class, () -> new PositionTable(clock, RETENTION, 0));
  }
}
