package dev.rlog.collector.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.collector.store.PositionTable;
import dev.rlog.common.time.FakeClock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class PositionFilterTest {
  private static final Duration RETENTION = Duration.ofDays(7);

  private final FakeClock clock = new FakeClock();
  private final PositionTable table = new PositionTable(clock, RETENTION, 1000);
  private final PositionFilter filter = new PositionFilter(table);

  /** One batch of lines of one instance, enqueued: true for each line let through. */
  private List<Boolean> send(String agent, String fid, long... offsets) {
    return filter.withAgent(agent, p -> {
      List<Boolean> admitted = new java.util.ArrayList<>();
      for (long off : offsets) {
        admitted.add(p.admit(fid, off));
      }
      p.commit();
      return admitted;
    });
  }

  @Test
  void aResendYoungerThanTheRetentionIsDroppedAnOlderOneIsStoredAgain() {
    assertThat(send("a", "f", 0, 10, 20)).containsExactly(true, true, true);
    clock.advance(RETENTION.minusMillis(1));
    assertThat(send("a", "f", 0, 10, 20)).containsExactly(false, false, false);
    clock.advance(Duration.ofMillis(1));
    assertThat(send("a", "f", 0, 10, 20)).containsExactly(true, true, true);
    assertThat(table.expired()).isEqualTo(1);
  }

  @Test
  void withinOneBatchTheTentativeMarksCountAndARollbackForgetsThem() {
    boolean[] second = new boolean[1];
    filter.withAgent("a", p -> {
      assertThat(p.admit("f", 5)).isTrue();
      second[0] = p.admit("f", 5);
      assertThat(p.tentativePositions("a")).containsExactly(new Chunk.Position("a", "f", 5));
      p.rollback();
      return null;
    });
    assertThat(second[0]).isFalse();
    assertThat(filter.highest("a", "f")).isEqualTo(-1);
    assertThat(table.size()).isZero();
  }

  @Test
  void agentsAreSeparate() {
    send("a", "f", 10);
    assertThat(send("b", "f", 10)).containsExactly(true);
    assertThat(filter.highest("a", "f")).isEqualTo(10);
  }

  @Test
  void anInstanceEvictedForCapacityIsStoredAgain() {
    PositionTable small = new PositionTable(clock, RETENTION, 2);
    PositionFilter f = new PositionFilter(small);
    for (String fid : List.of("f1", "f2", "f3")) {
      f.withAgent("a", p -> {
        p.admit(fid, 0);
        p.commit();
        return null;
      });
    }
    assertThat(f.highest("a", "f1")).isEqualTo(-1);
    assertThat(f.highest("a", "f3")).isZero();
    assertThat(small.evictedForCapacity()).isEqualTo(1);
  }
}
