package dev.rlog.collector.flow;

/**
 * What {@link ChunkQueue#offer} did with a chunk. Callers switch over it instead of catching
 * exceptions: each case calls for a different action.
 */
public sealed interface OfferResult {
  /** Taken, with its sequence number (for {@link ChunkQueue#whenCommitted}). */
  record Accepted(long seq) implements OfferResult {}

  /** Does not fit now: keep the chunk, stop reading, offer it again when there is room. */
  record Full() implements OfferResult {}

  /** The queue is closed (the collector is stopping): hand over with a forced offer, then stop. */
  record Closed() implements OfferResult {}

  /** The store failed: the chunk cannot be written; count it as dropped. */
  record Failed(Throwable cause) implements OfferResult {}

  OfferResult FULL = new Full();
  OfferResult CLOSED = new Closed();
}
