package dev.rlog.collector.grpc;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Counters of the gRPC ingest path, read by the metrics endpoint and by tests. Thread-safe. */
public final class GrpcIngestCounters {
  final LongAdder records = new LongAdder();
  final LongAdder bytes = new LongAdder();
  final LongAdder batches = new LongAdder();
  final LongAdder duplicatesSkipped = new LongAdder();
  final LongAdder callsFailed = new LongAdder();
  final LongAdder streamsClosedUnauthenticated = new LongAdder();
  final AtomicLong pausedStreams = new AtomicLong();
  final LongAdder batchesTooLarge = new LongAdder();
  final LongAdder receiveWaits = new LongAdder();
  final LongAdder idleReceiversClosed = new LongAdder();

  public long records() {
    return records.sum();
  }

  /** Line bytes received (UTF-8), before encoding. */
  public long bytes() {
    return bytes.sum();
  }

  public long batches() {
    return batches.sum();
  }

  public long duplicatesSkipped() {
    return duplicatesSkipped.sum();
  }

  public long callsFailed() {
    return callsFailed.sum();
  }

  /** Batches refused for their size (wire or store bytes, or entries): the call failed. */
  public long batchesTooLarge() {
    return batchesTooLarge.sum();
  }

  /** Send calls ended because they held a receive permit idle while others waited. */
  public long idleReceiversClosed() {
    return idleReceiversClosed.sum();
  }

  /** Times a Send call waited for a receive permit of the in-flight budget. */
  public long receiveWaits() {
    return receiveWaits.sum();
  }

  /** Send streams closed because their token expired or their agent was revoked meanwhile. */
  public long streamsClosedUnauthenticated() {
    return streamsClosedUnauthenticated.sum();
  }

  public long pausedStreams() {
    return pausedStreams.get();
  }
}
