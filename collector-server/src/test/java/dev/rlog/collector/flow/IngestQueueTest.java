package dev.rlog.collector.flow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.common.buffer.ChunkBufferPool;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class IngestQueueTest {
  // capacity 1000 B / 100 records, pause above 600 B, resume at or below 200 B
  private final IngestQueue q = new IngestQueue(1000, 100, 600, 200, 80, 20);

  private static Chunk chunk(int bytes, int records) {
    return Chunk.of(new byte[bytes], bytes, records);
  }

  private List<IngestQueue.Entry> drain() throws InterruptedException {
    List<IngestQueue.Entry> out = new ArrayList<>();
    q.drain(out, 0, TimeUnit.MILLISECONDS);
    return out;
  }

  @Test
  void sequenceNumbersFollowOfferOrder() throws Exception {
    assertThat(q.tryOffer(chunk(10, 1))).isEqualTo(1);
    assertThat(q.tryOffer(chunk(10, 1))).isEqualTo(2);
    assertThat(drain()).extracting(IngestQueue.Entry::seq).containsExactly(1L, 2L);
    assertThat(q.lastSeq()).isEqualTo(2);
  }

  @Test
  void pausesAboveHighWatermarkAndResumesAtLowAfterCommit() throws Exception {
    AtomicInteger resumed = new AtomicInteger();
    q.tryOffer(chunk(400, 1));
    assertThat(q.isPaused()).isFalse();
    q.whenResumed(resumed::incrementAndGet); // not paused: runs at once
    assertThat(resumed).hasValue(1);

    long s2 = q.tryOffer(chunk(300, 1));
    assertThat(q.isPaused()).isTrue();
    q.whenResumed(resumed::incrementAndGet);
    assertThat(resumed).hasValue(1);
    assertThat(drain()).hasSize(2);

    q.committed(1, 400, 1); // 300 left: above low, still paused
    assertThat(q.isPaused()).isTrue();
    assertThat(resumed).hasValue(1);
    q.committed(s2, 300, 1);
    assertThat(q.isPaused()).isFalse();
    assertThat(resumed).hasValue(2);
    assertThat(q.pauses()).isEqualTo(1);
  }

  @Test
  void refusesWhatWouldExceedCapacityEvenWhileTheWriterHoldsChunks() throws Exception {
    q.tryOffer(chunk(900, 1));
    drain(); // being written: still counts against the bound
    assertThat(q.tryOffer(chunk(101, 1))).isEqualTo(IngestQueue.FULL);
    assertThat(q.tryOffer(chunk(100, 1))).isPositive();
    assertThat(q.queuedBytes()).isEqualTo(1000);
    assertThat(q.refusedOffers()).isEqualTo(1);
  }

  @Test
  void idleBuffersOfThePoolAreTrimmedToTheRoomLeftUnderTheCapacity() throws Exception {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 64);
    IngestQueue queue = new IngestQueue(64 * 1024, 100, 48 * 1024, 16 * 1024, 80, 20, pool);
    for (int i = 0; i < 10; i++) {
      pool.release(new byte[4096]); // what the writer gave back after the last batch
    }
    assertThat(queue.tryOffer(chunk(16 * 1024, 1))).isPositive();
    assertThat(pool.idleBytes()).isEqualTo(40_960); // 16 KiB queued + 40 KiB idle: fits

    assertThat(queue.tryOffer(chunk(32 * 1024, 1))).isPositive();
    // 48 KiB queued: 16 KiB of room is left, so at most that stays idle.
    assertThat(pool.idleBytes()).isLessThanOrEqualTo(16 * 1024);
    assertThat(queue.queuedBytes() + pool.idleBytes()).isLessThanOrEqualTo(64 * 1024);
  }

  @Test
  void recordCapacityIsABoundToo() {
    q.tryOffer(chunk(1, 100));
    assertThat(q.tryOffer(chunk(1, 1))).isEqualTo(IngestQueue.FULL);
  }

  @Test
  void anEmptyQueueTakesAChunkLargerThanItsCapacitySoItCannotWedge() {
    assertThat(q.tryOffer(chunk(5000, 1))).isPositive();
    assertThat(q.tryOffer(chunk(1, 1))).isEqualTo(IngestQueue.FULL);
  }

  @Test
  void commitCallbacksFireInOrderOnceTheirSequenceIsCommitted() throws Exception {
    List<Long> acked = new ArrayList<>();
    long a = q.tryOffer(chunk(10, 1));
    long b = q.tryOffer(chunk(10, 1));
    q.whenCommitted(b, e -> acked.add(b));
    q.whenCommitted(a, e -> acked.add(a));
    drain();
    q.committed(a, 10, 1);
    assertThat(acked).containsExactly(a);
    q.committed(b, 10, 1);
    assertThat(acked).containsExactly(a, b);
    q.whenCommitted(a, e -> acked.add(-1L)); // already committed: at once
    assertThat(acked).containsExactly(a, b, -1L);
    assertThat(q.isIdle()).isTrue();
  }

  @Test
  void storeFailureReachesWaitersAndLaterOffers() {
    AtomicReference<Throwable> seen = new AtomicReference<>();
    long s = q.tryOffer(chunk(10, 1));
    q.whenCommitted(s, seen::set);
    IOException disk = new IOException("No space left on device");
    q.fail(disk);
    assertThat(seen.get()).isSameAs(disk);
    assertThrows(IllegalStateException.class, () -> q.tryOffer(chunk(1, 1)));
    q.whenCommitted(s, e -> seen.set(new RuntimeException("late", e)));
    assertThat(seen.get()).hasCauseReference(disk);
  }

  @Test
  void closeReleasesHeldProducersForTheirLastForcedOffer() throws Exception {
    AtomicInteger released = new AtomicInteger();
    q.tryOffer(chunk(700, 1));
    q.whenResumed(released::incrementAndGet);
    q.close();
    assertThat(released).hasValue(1);
    assertThrows(IllegalStateException.class, () -> q.tryOffer(chunk(1, 1)));
    // over capacity: shutdown only
    assertThat(q.forceOffer(chunk(900, 1))).isEqualTo(new OfferResult.Accepted(2));
    assertThat(drain()).hasSize(2);
  }

  @Test
  void drainWaitsForAChunkUpToItsTimeout() throws Exception {
    List<IngestQueue.Entry> out = new ArrayList<>();
    assertThat(q.drain(out, 1, TimeUnit.MILLISECONDS)).isZero();
    Thread producer = new Thread(() -> q.tryOffer(chunk(5, 1)));
    producer.start();
    assertThat(q.drain(out, 30, TimeUnit.SECONDS)).isEqualTo(1);
    producer.join();
  }
}
