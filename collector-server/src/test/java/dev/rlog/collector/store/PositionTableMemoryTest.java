package dev.rlog.collector.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.time.FakeClock;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Measures (prints; asserts no exact figure) the heap one table entry takes, with file instance
 * ids shaped like our agent's ({@code <dev>:<ino>:<fp16>:<nonce>}). The default
 * {@link StoreOptions#DEFAULT_DEDUP_MAX_INSTANCES} is sized from this figure. A heap measurement
 * after {@code System.gc()} is approximate; the assertion only catches a gross regression.
 */
class PositionTableMemoryTest {
  private static final int ENTRIES = 200_000;

  @Test
  void bytesPerEntry() {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    FakeClock clock = new FakeClock();
    String[] agents = new String[100];
    for (int i = 0; i < agents.length; i++) {
      agents[i] = java.util.UUID.nameUUIDFromBytes(new byte[] {(byte) i}).toString();
    }
    long before = usedAfterGc(memory);
    PositionTable table = new PositionTable(clock, Duration.ofDays(7), ENTRIES);
    for (int i = 0; i < ENTRIES; i++) {
      String fid = "2049:" + (10_000_000 + i) + ":" + String.format("%016x", i * 2654435761L)
          + ":" + Long.toString(i * 7919L + 1_000_000_000L, 36);
      // fresh strings, as a real call decodes them from its message
      table.commit(List.of(new Chunk.Position(new String(agents[i % agents.length]),
          fid, 1_000_000L + i)));
    }
    long after = usedAfterGc(memory);
    assertThat(table.size()).isEqualTo(ENTRIES);
    double perEntry = (double) (after - before) / ENTRIES;
    System.out.printf("PositionTable: %d entries, %.1f MiB, %.0f bytes/entry "
            + "(fid like 2049:10000000:0000000000000000:gjdgxs)%n",
        ENTRIES, (after - before) / 1048576.0, perEntry);
    assertThat(perEntry).isBetween(50.0, 400.0);
  }

  private static long usedAfterGc(MemoryMXBean memory) {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return memory.getHeapMemoryUsage().getUsed();
  }
}
