package dev.rlog.agent.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BatcherTest {
  private static final Duration FLUSH = Duration.ofSeconds(10);

  private final FakeClock clock = new FakeClock();
  private final AtomicInteger pollNeeded = new AtomicInteger();
  private final AtomicInteger spaceAvailable = new AtomicInteger();
  private final Batcher.Listener listener = new Batcher.Listener() {
    @Override
    public void pollNeeded() {
      pollNeeded.incrementAndGet();
    }

    @Override
    public void spaceAvailable() {
      spaceAvailable.incrementAndGet();
    }
  };

  private Batcher batcher(int batchSize, long batchMaxBytes, long maxBuffered) {
    return new Batcher(new Batcher.Options(batchSize, batchMaxBytes, FLUSH, maxBuffered), clock,
        listener, "test");
  }

  private static ByteString line(String s) {
    return ByteString.copyFromUtf8(s);
  }

  /** Appends "line-i" of file instance fi at offset 10*i (each line plus newline is 10 bytes). */
  private static boolean append(Batcher b, String fi, int i) {
    return b.append("app", fi, 10L * i, line(String.format("line-%04d", i)), 10L * i + 10);
  }

  private static long sizeOf(int i) {
    return Batcher.encodedSize("app", "fi", 10L * i, line(String.format("line-%04d", i)));
  }

  @Test
  void readyByCount() {
    Batcher b = batcher(3, 1 << 20, 1 << 22);
    append(b, "fi", 0);
    append(b, "fi", 1);
    assertThat(b.poll(clock.nanoTime()).batches()).isEmpty();
    append(b, "fi", 2);
    append(b, "fi", 3); // starts the second batch

    Batcher.Poll p = b.poll(clock.nanoTime());
    assertThat(p.batches()).hasSize(1);
    Batcher.ReadyBatch rb = p.batches().get(0);
    assertThat(rb.lineCount()).isEqualTo(3);
    assertThat(rb.batch().getLogsList()).extracting(Log::getLine)
        .containsExactly("line-0000", "line-0001", "line-0002");
    assertThat(rb.batch().getLogsList()).extracting(Log::getOffset).containsExactly(0L, 10L, 20L);
    assertThat(rb.endOffsets()).isEqualTo(Map.of("fi", 30L));
    assertThat(rb.batch().getBatchId()).isEqualTo("test-0");
    assertThat(b.bufferedLines()).isEqualTo(1);
  }

  @Test
  void readyByBytesNeverExceedingTheCap() {
    long one = sizeOf(0);
    // Room for exactly two lines and a bit: the third line must start a new batch.
    Batcher b = batcher(1000, 2 * one + one / 2, 1 << 20);
    append(b, "fi", 0);
    append(b, "fi", 1);
    assertThat(b.poll(clock.nanoTime()).batches()).as("2.5 lines of room, 2 used").isEmpty();
    append(b, "fi", 2);

    Batcher.Poll p = b.poll(clock.nanoTime());
    assertThat(p.batches()).hasSize(1);
    assertThat(p.batches().get(0).lineCount()).isEqualTo(2);
    assertThat(p.batches().get(0).bytes()).isEqualTo(2 * one).isLessThanOrEqualTo(2 * one + one / 2);
    // The accounted size bounds what goes on the wire for those lines.
    LogBatch sent = p.batches().get(0).batch();
    long logsOnWire = sent.getSerializedSize()
        - sent.toBuilder().clearLogs().build().getSerializedSize();
    assertThat(logsOnWire).isLessThanOrEqualTo(p.batches().get(0).bytes());
  }

  @Test
  void readyWhenBytesReachTheCapExactly() {
    long one = sizeOf(0);
    Batcher b = batcher(1000, 2 * one, 1 << 20);
    append(b, "fi", 0);
    append(b, "fi", 1);
    assertThat(b.poll(clock.nanoTime()).batches()).hasSize(1);
  }

  @Test
  void aLineLargerThanTheCapGoesAlone() {
    Batcher b = batcher(1000, 1024, 1 << 20);
    append(b, "fi", 0);
    byte[] big = new byte[4000];
    java.util.Arrays.fill(big, (byte) 'x');
    assertThat(b.append("app", "fi", 10, ByteString.copyFrom(big), 4011)).isTrue();
    append(b, "fi", 500);

    List<Batcher.ReadyBatch> out = b.poll(clock.nanoTime()).batches();
    assertThat(out).extracting(Batcher.ReadyBatch::lineCount).containsExactly(1, 1);
    assertThat(out.get(1).batch().getLogs(0).getLine()).hasSize(4000);
    assertThat(b.bufferedLines()).isEqualTo(1);
  }

  @Test
  void readyByDeadlineAndNextDeadlineValues() {
    Batcher b = batcher(1000, 1 << 20, 1 << 22);
    Batcher.Poll empty = b.poll(clock.nanoTime());
    assertThat(empty.hasDeadline()).isFalse();
    assertThat(empty.nextDeadlineNanos()).isEqualTo(Batcher.NO_DEADLINE);
    assertThat(empty.waitNanos(clock.nanoTime())).isEqualTo(Long.MAX_VALUE);

    long first = clock.nanoTime();
    append(b, "fi", 0);
    clock.advance(Duration.ofSeconds(4));
    append(b, "fi", 1); // a later line does not move the deadline: the first line's age counts

    Batcher.Poll p = b.poll(clock.nanoTime());
    assertThat(p.batches()).isEmpty();
    assertThat(p.nextDeadlineNanos()).isEqualTo(first + FLUSH.toNanos());
    assertThat(p.waitNanos(clock.nanoTime())).isEqualTo(Duration.ofSeconds(6).toNanos());

    clock.advance(Duration.ofSeconds(6).minusNanos(1));
    assertThat(b.poll(clock.nanoTime()).batches()).as("1 ns early").isEmpty();
    clock.advance(Duration.ofNanos(1));
    Batcher.Poll due = b.poll(clock.nanoTime());
    assertThat(due.batches()).hasSize(1);
    assertThat(due.batches().get(0).lineCount()).isEqualTo(2);
    assertThat(due.hasDeadline()).isFalse();

    // The next batch's deadline starts at its own first line.
    clock.advance(Duration.ofSeconds(3));
    long second = clock.nanoTime();
    append(b, "fi", 2);
    assertThat(b.poll(clock.nanoTime()).nextDeadlineNanos()).isEqualTo(second + FLUSH.toNanos());
  }

  @Test
  void deadlineIsNowWhenMoreBatchesAreReadyThanAskedFor() {
    Batcher b = batcher(1, 1 << 20, 1 << 22);
    for (int i = 0; i < 3; i++) {
      append(b, "fi", i);
    }
    long now = clock.nanoTime();
    Batcher.Poll p = b.poll(now, 2);
    assertThat(p.batches()).extracting(r -> r.batch().getBatchId()).containsExactly("test-0", "test-1");
    assertThat(p.nextDeadlineNanos()).isEqualTo(now);
    assertThat(p.waitNanos(now)).isZero();

    Batcher.Poll none = b.poll(now, 0);
    assertThat(none.batches()).isEmpty();
    assertThat(none.nextDeadlineNanos()).isEqualTo(now);

    assertThat(b.poll(now, 5).batches()).extracting(r -> r.batch().getBatchId()).containsExactly("test-2");
  }

  @Test
  void boundRefusesAppendsUntilPollFreesSpace() {
    long one = sizeOf(0);
    // Batches of 2 lines; the buffer holds 3 lines.
    Batcher b = batcher(2, 3 * one + 1, 3 * one + 1);
    assertThat(append(b, "fi", 0)).isTrue();
    assertThat(append(b, "fi", 1)).isTrue();
    assertThat(append(b, "fi", 2)).isTrue();
    int wakes = pollNeeded.get();
    assertThat(append(b, "fi", 3)).as("4th line exceeds the bound").isFalse();
    assertThat(append(b, "fi", 3)).isFalse();
    assertThat(b.refusedAppends()).isEqualTo(2);
    assertThat(b.bufferedLines()).isEqualTo(3);
    assertThat(b.bufferedBytes()).isEqualTo(3 * one);
    assertThat(spaceAvailable.get()).isZero();

    // The refusal closed the half-full open batch so the poller need not wait for its deadline.
    assertThat(pollNeeded.get()).isGreaterThan(wakes);
    Batcher.Poll p = b.poll(clock.nanoTime());
    assertThat(p.batches()).extracting(Batcher.ReadyBatch::lineCount).containsExactly(2, 1);
    assertThat(spaceAvailable.get()).isEqualTo(1);
    assertThat(b.bufferedBytes()).isZero();

    assertThat(append(b, "fi", 3)).isTrue();
    assertThat(b.poll(clock.nanoTime()).batches()).isEmpty();
    assertThat(spaceAvailable.get()).as("no refusal since the last poll").isEqualTo(1);
  }

  @Test
  void anEmptyBufferAcceptsALineLargerThanTheBound() {
    Batcher b = batcher(10, 1024, 1024);
    ByteString big = ByteString.copyFrom(new byte[5000]);
    assertThat(b.append("app", "fi", 0, big, 5001)).isTrue();
    assertThat(append(b, "fi", 600)).isFalse();
    assertThat(b.poll(clock.nanoTime()).batches()).hasSize(1);
    assertThat(append(b, "fi", 600)).isTrue();
  }

  @Test
  void endOffsetsPerFileInstanceAndLinesWithoutPosition() {
    Batcher b = batcher(10, 1 << 20, 1 << 22);
    b.append("a", "fi-1", 0, line("a0"), 3);
    b.append("b", "fi-2", 100, line("b0"), 103);
    b.append("a", "fi-1", 3, line("a1"), 6);
    b.append("tcp", "", 0, line("no position"), 0);
    b.flushNow();

    Batcher.ReadyBatch rb = b.poll(clock.nanoTime()).batches().get(0);
    assertThat(rb.endOffsets()).containsExactly(Map.entry("fi-1", 6L), Map.entry("fi-2", 103L));
    assertThat(rb.batch().getLogsList()).extracting(Log::getLabel, Log::getFileInstance, Log::getLine)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("a", "fi-1", "a0"),
            org.assertj.core.groups.Tuple.tuple("b", "fi-2", "b0"),
            org.assertj.core.groups.Tuple.tuple("a", "fi-1", "a1"),
            org.assertj.core.groups.Tuple.tuple("tcp", "", "no position"));
  }

  @Test
  void timestampsAreReadTimeAndSendAtIsPollTime() {
    Batcher b = batcher(10, 1 << 20, 1 << 22);
    long t0 = clock.currentTimeMillis();
    append(b, "fi", 0);
    clock.advance(Duration.ofMillis(1500));
    append(b, "fi", 1);
    clock.advance(Duration.ofMillis(250));
    b.flushNow();
    LogBatch batch = b.poll(clock.nanoTime()).batches().get(0).batch();
    assertThat(millis(batch.getLogs(0).getTimestamp())).isEqualTo(t0);
    assertThat(millis(batch.getLogs(1).getTimestamp())).isEqualTo(t0 + 1500);
    assertThat(millis(batch.getSendAt())).isEqualTo(t0 + 1750);
  }

  @Test
  void invalidUtf8IsSentWithReplacementAndCounted() {
    Batcher b = batcher(10, 1 << 20, 1 << 22);
    byte[] bad = {'o', 'k', (byte) 0xff, '!'};
    b.append("app", "fi", 0, ByteString.copyFrom(bad), 5);
    b.append("app", "fi", 5, line("héllo"), 12);
    b.flushNow();
    LogBatch batch = b.poll(clock.nanoTime()).batches().get(0).batch();
    assertThat(batch.getLogs(0).getLine()).isEqualTo("ok\uFFFD!");
    assertThat(batch.getLogs(1).getLineBytes().toByteArray())
        .isEqualTo("héllo".getBytes(StandardCharsets.UTF_8));
    assertThat(b.invalidUtf8Lines()).isEqualTo(1);
  }

  @Test
  void listenerIsToldWhenToPollAgain() {
    Batcher b = batcher(2, 1 << 20, 1 << 22);
    append(b, "fi", 0);
    assertThat(pollNeeded.get()).as("new batch: new deadline").isEqualTo(1);
    append(b, "fi", 1);
    assertThat(pollNeeded.get()).as("batch full").isEqualTo(2);
    append(b, "fi", 2);
    assertThat(pollNeeded.get()).isEqualTo(3);
    b.flushNow();
    assertThat(pollNeeded.get()).isEqualTo(4);
    b.flushNow();
    assertThat(pollNeeded.get()).as("nothing open").isEqualTo(4);
    assertThat(b.poll(clock.nanoTime()).batches()).hasSize(2);
  }

  @Test
  void batchIdsAreUniqueAndSequential() {
    Batcher b = batcher(1, 1 << 20, 1 << 22);
    for (int i = 0; i < 4; i++) {
      append(b, "fi", i);
    }
    assertThat(b.poll(clock.nanoTime(), 1).batches().get(0).batch().getBatchId()).isEqualTo("test-0");
    assertThat(b.poll(clock.nanoTime()).batches()).extracting(r -> r.batch().getBatchId())
        .containsExactly("test-1", "test-2", "test-3");
    Batcher other = new Batcher(Batcher.Options.of(1, 1 << 20, FLUSH), clock, Batcher.Listener.NONE);
    other.append("app", "fi", 0, line("x"), 2);
    assertThat(other.poll(clock.nanoTime()).batches().get(0).batch().getBatchId())
        .matches("[0-9a-f-]{36}-0");
  }

  @Test
  void countsLinesPerLabelWhileBuilding() {
    Batcher b = batcher(10, 1 << 20, 1 << 22);
    b.append("app", "fi", 0, line("a"), 2);
    b.append("db", "fj", 0, line("b"), 2);
    b.append("app", "fi", 2, line("c"), 4);
    b.append("", "", 0, line("d"), 2);
    b.flushNow();

    Batcher.ReadyBatch rb = b.poll(clock.nanoTime()).batches().get(0);
    assertThat(rb.linesByLabel()).isEqualTo(Map.of("app", 2L, "db", 1L, "", 1L));
    assertThat(rb.linesByLabel().values().stream().mapToLong(Long::longValue).sum())
        .isEqualTo(rb.lineCount());
  }

  @Test
  void rejectsInvalidArguments() {
    Batcher b = batcher(1, 1024, 1024);
    assertThrows(IllegalArgumentException.class, () -> b.append("app", "fi", -1, line("x"), 0));
    assertThrows(IllegalArgumentException.class, () -> b.append("app", "fi", 10, line("x"), 9));
    assertThrows(NullPointerException.class, () -> b.append(null, "fi", 0, line("x"), 2));
    assertThrows(IllegalArgumentException.class, () -> b.poll(0, -1));
    assertThrows(IllegalArgumentException.class,
        () -> new Batcher.Options(0, 1024, FLUSH, 4096));
    assertThrows(IllegalArgumentException.class,
        () -> new Batcher.Options(1, 1024, Duration.ZERO, 4096));
    assertThrows(IllegalArgumentException.class,
        () -> new Batcher.Options(1, 4096, FLUSH, 1024));
  }

  private static long millis(com.google.protobuf.Timestamp t) {
    return t.getSeconds() * 1000 + t.getNanos() / 1_000_000;
  }
}
