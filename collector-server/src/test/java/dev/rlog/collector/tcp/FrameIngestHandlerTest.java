package dev.rlog.collector.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.common.time.FakeClock;
import dev.rlog.common.wire.FrameEncoder;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The connection state machine through {@link EmbeddedChannel}: no socket, no sleep. */
class FrameIngestHandlerTest {
  private static final int MAX_FRAME = 1024;
  private static final Duration TIMEOUT = Duration.ofSeconds(5);

  private final FakeChunkQueue queue = new FakeChunkQueue();
  private final FakeClock clock = new FakeClock();
  private final TcpIngestCounters counters = new TcpIngestCounters();
  private final Set<FrameIngestHandler> live = ConcurrentHashMap.newKeySet();
  private PartialBudget budget = new PartialBudget(1 << 20);

  private FrameIngestHandler handler() {
    return new FrameIngestHandler(queue, clock, counters, MAX_FRAME, null, live, budget, TIMEOUT);
  }

  private static EmbeddedChannel channel(FrameIngestHandler h) {
    EmbeddedChannel ch = new EmbeddedChannel(h);
    ch.freezeTime();
    return ch;
  }

  private static byte[] frames(String... payloads) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (String p : payloads) {
      out.writeBytes(FrameEncoder.encode(p.getBytes(StandardCharsets.UTF_8)));
    }
    return out.toByteArray();
  }

  private static byte[] header(int length) {
    return ByteBuffer.allocate(4).putInt(length).array();
  }

  private static void read(EmbeddedChannel ch, byte[] bytes) {
    ch.writeInbound(Unpooled.wrappedBuffer(bytes));
  }

  @Test
  void recordsSplitByteByByteArriveWhole() {
    EmbeddedChannel ch = channel(handler());
    for (byte b : frames("alpha", "", "beta")) {
      read(ch, new byte[] {b});
    }
    assertThat(queue.payloads()).containsExactly("alpha", "", "beta");
    assertThat(counters.recordsReceived()).isEqualTo(3);
    assertThat(budget.used()).isZero();
    ch.finishAndReleaseAll();
    assertThat(counters.partialRecordsDropped()).isZero();
  }

  @Test
  void aFullQueueStopsReadingHoldsOneReadAndResumeDeliversInOrder() {
    FrameIngestHandler h = handler();
    EmbeddedChannel ch = channel(h);
    queue.full = true; // refused below the watermark: waits for a commit
    read(ch, frames("r1", "r2"));
    assertThat(ch.config().isAutoRead()).isFalse();
    assertThat(h.state()).isEqualTo(ConnectionState.PAUSED);
    assertThat(queue.accepted).isEmpty();
    assertThat(queue.refused).isEqualTo(1);
    assertThat(counters.pausedConnections()).isEqualTo(1);
    // EmbeddedChannel ignores autoRead, as epoll does for a peer that closed: held raw
    read(ch, frames("r3"));
    assertThat(queue.refused).isEqualTo(1);
    assertThat(queue.waiters()).isEqualTo(1);

    queue.resume();
    ch.runPendingTasks();
    assertThat(queue.payloads()).containsExactly("r1", "r2", "r3");
    assertThat(h.state()).isEqualTo(ConnectionState.READING);
    assertThat(ch.config().isAutoRead()).isTrue();
    assertThat(counters.pausedConnections()).isZero();
    read(ch, frames("r4"));
    assertThat(queue.payloads()).containsExactly("r1", "r2", "r3", "r4");
  }

  @Test
  void aReadWhileTheQueueIsPausedIsHeldRawAndDecodedOnResume() {
    FrameIngestHandler h = handler();
    EmbeddedChannel ch = channel(h);
    queue.paused = true;
    read(ch, frames("p1"));
    assertThat(h.state()).isEqualTo(ConnectionState.PAUSED);
    assertThat(queue.refused).isZero(); // not even offered: kept raw
    queue.resume();
    ch.runPendingTasks();
    assertThat(queue.payloads()).containsExactly("p1");
    assertThat(h.state()).isEqualTo(ConnectionState.READING);
  }

  @Test
  void aPeerThatClosesWhileHeldStillHasItsRecordsDelivered() {
    FrameIngestHandler h = handler();
    EmbeddedChannel ch = channel(h);
    queue.full = true;
    queue.paused = true;
    read(ch, frames("kept"));
    ch.close();
    assertThat(h.state()).isEqualTo(ConnectionState.PEER_CLOSED_HOLDING);
    queue.resume();
    ch.runPendingTasks();
    assertThat(queue.payloads()).containsExactly("kept");
    assertThat(h.state()).isEqualTo(ConnectionState.FINISHED);
    assertThat(live).isEmpty();
  }

  @Test
  void closeInsideARecordDropsAndCountsItsBytes() {
    FrameIngestHandler h = handler();
    EmbeddedChannel ch = channel(h);
    read(ch, frames("whole"));
    read(ch, header(10));
    read(ch, new byte[] {1, 2, 3});
    assertThat(budget.used()).isEqualTo(7);
    ch.close();
    assertThat(queue.payloads()).containsExactly("whole");
    assertThat(counters.partialRecordsDropped()).isEqualTo(1);
    assertThat(counters.partialBytesDropped()).isEqualTo(7);
    assertThat(h.state()).isEqualTo(ConnectionState.FINISHED);
    assertThat(budget.used()).isZero();
  }

  @Test
  void anOversizedHeaderAfterTwoGoodRecordsDeliversBothThenCloses() {
    EmbeddedChannel ch = channel(handler());
    ByteArrayOutputStream in = new ByteArrayOutputStream();
    in.writeBytes(frames("one", "two"));
    in.writeBytes(header(MAX_FRAME + 1));
    in.writeBytes(new byte[] {9, 9, 9});
    read(ch, in.toByteArray());
    assertThat(queue.payloads()).containsExactly("one", "two");
    assertThat(ch.isOpen()).isFalse();
    assertThat(counters.framesTooLarge()).isEqualTo(1);
    assertThat(counters.partialRecordsDropped()).isZero();
  }

  @Test
  void anIncompleteRecordIdleForThePartialTimeoutClosesTheConnection() {
    FrameIngestHandler h = handler();
    EmbeddedChannel ch = channel(h);
    read(ch, header(10));
    read(ch, new byte[] {1, 2});
    advance(ch, Duration.ofSeconds(3));
    read(ch, new byte[] {3}); // progress: the idle time starts again
    advance(ch, Duration.ofSeconds(3));
    assertThat(ch.isOpen()).isTrue();
    advance(ch, Duration.ofSeconds(2));
    assertThat(ch.isOpen()).isFalse();
    assertThat(counters.connectionsClosedPartialTimeout()).isEqualTo(1);
    assertThat(counters.partialBytesDropped()).isEqualTo(7);
  }

  @Test
  void anIdleConnectionWithoutAnIncompleteRecordStaysOpen() {
    EmbeddedChannel ch = channel(handler());
    read(ch, frames("done"));
    advance(ch, TIMEOUT.multipliedBy(3));
    assertThat(ch.isOpen()).isTrue();
    assertThat(counters.connectionsClosedPartialTimeout()).isZero();
  }

  @Test
  void pastThePartialBudgetTheLargestHolderIsClosedAndOthersGoOn() {
    budget = new PartialBudget(100);
    EmbeddedChannel big = channel(handler());
    EmbeddedChannel small = channel(handler());
    read(big, header(200));
    read(big, new byte[60]); // holds 64
    read(small, header(50));
    read(small, new byte[40]); // holds 44: 108 in all, above 100
    big.runPendingTasks(); // the eviction runs on big's own loop
    assertThat(big.isOpen()).isFalse();
    assertThat(small.isOpen()).isTrue();
    assertThat(counters.connectionsClosedPartialBudget()).isEqualTo(1);
    assertThat(budget.used()).isEqualTo(44);
    read(small, new byte[10]);
    assertThat(queue.payloads()).hasSize(1);
    assertThat(budget.used()).isZero();
  }

  @Test
  void theConnectionAskingForMoreIsClosedWhenItIsTheLargest() {
    budget = new PartialBudget(100);
    EmbeddedChannel small = channel(handler());
    EmbeddedChannel big = channel(handler());
    read(small, header(50));
    read(small, new byte[20]); // 24
    read(big, header(500));
    read(big, new byte[90]); // 94: 118 in all, and big is the largest
    assertThat(big.isOpen()).isFalse();
    assertThat(small.isOpen()).isTrue();
    assertThat(counters.connectionsClosedPartialBudget()).isEqualTo(1);
    assertThat(budget.used()).isEqualTo(24);
  }

  @Test
  void aClosedQueueTakesTheReadForcedThenTheConnectionCloses() {
    EmbeddedChannel ch = channel(handler());
    queue.closed = true;
    read(ch, frames("last"));
    assertThat(queue.payloads()).containsExactly("last");
    assertThat(ch.isOpen()).isFalse();
  }

  @Test
  void aFailedStoreCountsTheRecordsAsDropped() {
    EmbeddedChannel ch = channel(handler());
    queue.failure = new java.io.IOException("disk gone");
    read(ch, frames("a", "b"));
    assertThat(counters.recordsDropped()).isEqualTo(2);
    assertThat(queue.accepted).isEmpty();
  }

  @Test
  void shutdownForcesWhatIsHeldIntoTheQueue() {
    FrameIngestHandler h = handler();
    EmbeddedChannel ch = channel(h);
    queue.full = true;
    queue.paused = true;
    read(ch, frames("held"));
    queue.closed = true;
    h.flushForShutdown();
    assertThat(queue.payloads()).containsExactly("held");
    assertThat(h.state()).isEqualTo(ConnectionState.FINISHED);
    assertThat(ch.isOpen()).isFalse();
    assertThat(live).isEmpty();
    assertThat(counters.pausedConnections()).isZero();
  }

  private void advance(EmbeddedChannel ch, Duration d) {
    clock.advance(d);
    ch.advanceTimeBy(d.toNanos(), TimeUnit.NANOSECONDS);
    ch.runScheduledPendingTasks();
    ch.runPendingTasks();
  }

}
