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

  /** Send streams closed because their token expired or their agent was revoked meanwhile. */
  public long streamsClosedUnauthenticated() {
    return streamsClosedUnauthenticated.sum();
  }

  public long pausedStreams() {
    return pausedStreams.get();
  }
}
