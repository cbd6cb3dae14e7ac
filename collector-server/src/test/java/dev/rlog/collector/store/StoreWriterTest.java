package dev.rlog.collector.store;

import static dev.rlog.collector.store.TestRecords.grpcChunk;
import static dev.rlog.collector.store.TestRecords.records;
import static dev.rlog.collector.store.TestRecords.recordsOf;
import static dev.rlog.collector.store.TestRecords.tcpChunk;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.buffer.ChunkBufferPool;
import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.collector.flow.OfferResult;
import dev.rlog.common.time.FakeClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreWriterTest {
  private static final Duration CHECKPOINT_INTERVAL = Duration.ofSeconds(2);

  @TempDir Path dir;

  private final FakeClock clock = new FakeClock();
  private final IngestQueue queue = new IngestQueue(64 * 1024, 1000, 32 * 1024, 16 * 1024, 500, 250);
  private StoreWriter writer;

  @AfterEach
  void stop() throws Exception {
    if (writer != null) {
      // A failed writer's future completes exceptionally; the test checked that already.
      writer.shutdown().handle((v, e) -> null).get(10, TimeUnit.SECONDS);
    }
  }

  private StoreWriter start(SegmentStore store, WriteGate gate) {
    writer = new StoreWriter(queue, store, clock, CHECKPOINT_INTERVAL, gate);
    writer.start();
    return writer;
  }

  private StoreWriter start(WriteGate gate) throws IOException {
    return start(SegmentStore.open(dir, StoreOptions.defaults()), gate);
  }

  /** Offers a chunk and returns a future completed by its commit callback. */
  private CompletableFuture<Void> offer(Chunk chunk) {
    long seq = queue.tryOffer(chunk);
    assertThat(seq).isNotEqualTo(IngestQueue.FULL);
    return committed(seq);
  }

  private CompletableFuture<Void> committed(long seq) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    queue.whenCommitted(seq, error -> {
      if (error == null) {
        done.complete(null);
      } else {
        done.completeExceptionally(error);
      }
    });
    return done;
  }

  private static void awaitDone(CompletableFuture<?> future) throws Exception {
    future.get(10, TimeUnit.SECONDS);
  }

  @Test
  void offeredChunksAreWrittenThenAcknowledgedInOrder() throws Exception {
    start(WriteGate.OPEN);
    List<Chunk> chunks = new ArrayList<>();
    List<CompletableFuture<Void>> acks = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      Chunk chunk = i % 2 == 0 ? tcpChunk("t" + i, "u" + i) : grpcChunk("a", "f", 100L * i, 3);
      chunks.add(chunk);
      acks.add(offer(chunk));
    }

    awaitDone(CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)));

    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(chunks.toArray(Chunk[]::new)));
    assertThat(writer.store().recordsWritten()).isEqualTo(25 * 2 + 25 * 3);
    assertThat(writer.store().committedOffset("a", "f")).isEqualTo(4900 + 20);
    assertThat(queue.isIdle()).isTrue();
    assertThat(queue.queuedBytes()).isZero();
    assertThat(writer.batches()).isBetween(1L, 50L);
  }

  @Test
  void committedChunkBuffersGoBackToTheirPoolNotBefore() throws Exception {
    ChunkBufferPool pool = new ChunkBufferPool(1 << 20, 4);
    Chunk plain = tcpChunk("t", "u");
    byte[] buffer = java.util.Arrays.copyOf(plain.bytes(), 4096); // a poolable size
    Chunk chunk = new Chunk(buffer, plain.length(), plain.records(), List.of(), pool);
    WriteGate.Manual gate = WriteGate.Manual.held();
    start(gate);
    CompletableFuture<Void> ack = offer(chunk);

    await().atMost(Duration.ofSeconds(10)).until(gate::hasWaiter);
    assertThat(pool.idleBuffers()).isZero(); // taken by the writer, not written yet
    gate.release();
    awaitDone(ack);

    // Given back before the acknowledgement, and written first.
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(plain));
    assertThat(pool.take(buffer.length, buffer.length)).isSameAs(buffer);
  }

  @Test
  void heldGateKeepsBytesOutOfTheStoreUntilReleased() throws Exception {
    WriteGate.Manual gate = WriteGate.Manual.held();
    start(gate);
    Chunk chunk = grpcChunk("a", "f", 0, 2);
    CompletableFuture<Void> ack = offer(chunk);

    // The writer has taken the batch and is blocked on the gate: nothing may be written yet.
    await().atMost(Duration.ofSeconds(10)).until(gate::hasWaiter);
    assertThat(TestRecords.segments(dir)).allSatisfy(s -> assertThat(s).isEmptyFile());
    assertThat(ack).isNotDone();
    assertThat(queue.queuedBytes()).isEqualTo(chunk.footprint()); // still counts against the bound
    assertThat(writer.store().committedOffset("a", "f")).isEqualTo(-1);

    gate.release();

    awaitDone(ack);
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(chunk));
    assertThat(queue.queuedBytes()).isZero();
  }

  @Test
  void heldWriterMakesTheQueueFillAndPause() throws Exception {
    WriteGate.Manual gate = WriteGate.Manual.held();
    start(gate);
    List<Chunk> accepted = new ArrayList<>();
    long seq = 0;
    for (int i = 0; !queue.isPaused(); i++) {
      Chunk chunk = tcpChunk("payload " + i);
      seq = queue.tryOffer(chunk);
      assertThat(seq).isNotEqualTo(IngestQueue.FULL);
      accepted.add(chunk);
    }
    CompletableFuture<Void> resumed = new CompletableFuture<>();
    queue.whenResumed(() -> resumed.complete(null));
    CompletableFuture<Void> last = committed(seq);
    assertThat(resumed).isNotDone();

    gate.release();

    awaitDone(last);
    awaitDone(resumed);
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(accepted.toArray(Chunk[]::new)));
  }

  @Test
  void shutdownDrainsEverythingAcceptedThenCheckpointsAndCloses() throws Exception {
    WriteGate.Manual gate = WriteGate.Manual.held();
    start(gate);
    List<Chunk> chunks = new ArrayList<>();
    List<CompletableFuture<Void>> acks = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Chunk chunk = grpcChunk("a", "f" + (i % 3), 10L * i, 1);
      chunks.add(chunk);
      acks.add(offer(chunk));
    }
    queue.close(); // the lead closes intake first; producers then hand over what they hold
    OfferResult last = queue.forceOffer(tcpChunk("last held chunk"));
    acks.add(committed(((OfferResult.Accepted) last).seq()));
    chunks.add(tcpChunk("last held chunk"));

    CompletableFuture<Void> stopped = writer.shutdown();
    assertThat(writer.shutdown()).isSameAs(stopped);
    assertThat(stopped).isNotDone(); // held: nothing written yet, so it cannot be done
    gate.release();

    awaitDone(stopped);
    assertThat(acks).allSatisfy(ack -> assertThat(ack).isCompleted());
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(chunks.toArray(Chunk[]::new)));
    assertThrows(IllegalStateException.class, () -> queue.tryOffer(tcpChunk("too late")));
    Checkpoint cp = Checkpoint.read(dir.resolve(SegmentStore.CHECKPOINT_FILE));
    assertThat(cp.offset()).isEqualTo(Files.size(dir.resolve(cp.segment())));
    assertThat(cp.offsets()).isEqualTo(Map.of("a", Map.of("f0", 180L, "f1", 190L, "f2", 170L)));
    assertThrows(IllegalStateException.class, () -> writer.store().append(List.of()));
  }

  @Test
  void shutdownWithoutStartStillWritesWhatWasAccepted() throws Exception {
    writer = new StoreWriter(queue, SegmentStore.open(dir, StoreOptions.defaults()), clock);
    Chunk chunk = tcpChunk("accepted before start");
    CompletableFuture<Void> ack = offer(chunk);

    awaitDone(writer.shutdown());

    assertThat(ack).isCompleted();
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(chunk));
    writer.start(); // idempotent, no second thread
    assertThat(writer.terminated()).isCompleted();
  }

  @Test
  void checkpointsWhenTheClockPassesTheInterval() throws Exception {
    start(WriteGate.OPEN);
    Path file = dir.resolve(SegmentStore.CHECKPOINT_FILE);
    awaitDone(offer(grpcChunk("a", "f", 5, 1)));
    assertThat(file).doesNotExist(); // the fake clock has not moved

    clock.advance(CHECKPOINT_INTERVAL);

    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(file));
    assertThat(Checkpoint.read(file).offsets()).isEqualTo(Map.of("a", Map.of("f", 5L)));

    awaitDone(offer(grpcChunk("a", "f", 6, 1)));
    clock.advance(CHECKPOINT_INTERVAL);
    await().atMost(Duration.ofSeconds(10))
        .until(() -> Checkpoint.read(file).offsets().get("a").get("f") == 6L);
  }

  @Test
  void aFullDiskPausesIntakeAndLosesNothingOnceItHasRoomAgain() throws Exception {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    SegmentStore store = SegmentStore.open(dir, StoreOptions.defaults(), disk.opener(), 1 << 16);
    WriteGate.Manual gate = new WriteGate.Manual();
    start(store, gate);
    Chunk good = grpcChunk("a", "f", 0, 1);
    awaitDone(offer(good));

    gate.hold(); // so that both chunks go in one batch behind a full disk
    disk.fillUpAfter(10); // a short write, then "No space left on device"
    Chunk first = tcpChunk("disk is full");
    Chunk second = grpcChunk("a", "f", 10, 1);
    CompletableFuture<Void> firstDone = offer(first);
    CompletableFuture<Void> secondDone = offer(second);
    await().atMost(Duration.ofSeconds(10)).until(gate::hasWaiter);
    gate.release();

    await().atMost(Duration.ofSeconds(10)).until(() -> writer.writeRetries() >= 2);
    // nothing acknowledged, nothing half-written kept, intake still counts them as queued
    assertThat(firstDone).isNotDone();
    assertThat(secondDone).isNotDone();
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(good));
    assertThat(queue.queuedRecords()).isEqualTo(2);
    assertThat(store.committedOffset("a", "f")).isZero();

    disk.fillUpAfter(Long.MAX_VALUE); // room again
    awaitDone(firstDone);
    awaitDone(secondDone);
    List<String> expected = new java.util.ArrayList<>(recordsOf(good));
    expected.addAll(recordsOf(first));
    expected.addAll(recordsOf(second));
    assertThat(records(dir)).containsExactlyElementsOf(expected);
    assertThat(store.committedOffset("a", "f")).isEqualTo(10);
    assertThat(writer.failure()).isNull();
  }

  @Test
  void aStoreThatCannotGoOnFailsTheQueueSoIntakeStops() throws Exception {
    FaultyFileChannel.Disk disk = new FaultyFileChannel.Disk();
    SegmentStore store = SegmentStore.open(dir, StoreOptions.defaults(), disk.opener(), 1 << 16);
    WriteGate.Manual gate = new WriteGate.Manual();
    start(store, gate);
    Chunk good = grpcChunk("a", "f", 0, 1);
    awaitDone(offer(good));

    disk.fillUpAfter(0);
    CompletableFuture<Void> first = offer(tcpChunk("disk is full"));
    await().atMost(Duration.ofSeconds(10)).until(() -> writer.writeRetries() >= 1);
    // shutting down while the disk is still full: the writer gives up and fails the queue
    CompletableFuture<Void> stopped = writer.shutdown();

    ExecutionException error = assertThrows(ExecutionException.class, () -> awaitDone(first));
    assertThat(error).hasRootCauseMessage("No space left on device");
    assertThrows(ExecutionException.class, () -> awaitDone(stopped));
    assertThat(writer.failure()).isInstanceOf(IOException.class);
    // A waiter registering after the failure learns at once.
    CompletableFuture<Void> late = committed(queue.lastSeq());
    assertThat(late).isCompletedExceptionally();
    assertThat(store.isFailed()).isTrue();
    assertThat(records(dir)).containsExactlyElementsOf(recordsOf(good));
  }

  @Test
  void rejectsBadCheckpointInterval() throws IOException {
    SegmentStore store = SegmentStore.open(dir, StoreOptions.defaults());
    try {
      assertThrows(IllegalArgumentException.class,
          () -> new StoreWriter(queue, store, clock, Duration.ZERO, WriteGate.OPEN));
    } finally {
      store.close();
    }
  }
}
