package dev.rlog.collector.flow;

import java.util.function.Consumer;

/**
 * What a producer (a TCP connection, a gRPC call) needs of the ingest queue: offer chunks, learn
 * when it may read again. {@link IngestQueue} is the one implementation; tests use a fake.
 * See {@link IngestQueue} for the bounds and threading.
 */
public interface ChunkQueue {
  /** Offers a chunk within the queue's bound. Never throws for a closed queue or failed store. */
  OfferResult offer(Chunk chunk);

  /**
   * Shutdown only: takes the chunk whatever the level ({@link OfferResult.Accepted}) unless the
   * store failed ({@link OfferResult.Failed}).
   */
  OfferResult forceOffer(Chunk chunk);

  /** True while producers should not read more. */
  boolean isPaused();

  /** Runs {@code callback} once the queue is not paused (at once if it is not now). */
  void whenResumed(Runnable callback);

  /** Runs {@code callback} once everything through {@code seq} is committed (or with the error). */
  void whenCommitted(long seq, Consumer<Throwable> callback);

  /** The sequence number of the last accepted chunk (0 if none). */
  long lastSeq();
}
