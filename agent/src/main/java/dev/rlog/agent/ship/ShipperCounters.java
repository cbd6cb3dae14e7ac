package dev.rlog.agent.ship;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Counters of the shipping side, for the metrics endpoint and tests. Thread-safe. */
public final class ShipperCounters {
  private final Map<String, LongAdder> read = new ConcurrentHashMap<>();
  private final Map<String, LongAdder> acked = new ConcurrentHashMap<>();
  private final LongAdder retries = new LongAdder();
  private final LongAdder poisoned = new LongAdder();
  private final LongAdder calls = new LongAdder();
  private final LongAdder tokenRenewals = new LongAdder();
  private final AtomicLong batchesInFlight = new AtomicLong();

  void linesRead(String label, long n) {
    read.computeIfAbsent(label, l -> new LongAdder()).add(n);
  }

  void linesAcked(Map<String, Long> byLabel) {
    byLabel.forEach((label, n) -> acked.computeIfAbsent(label, l -> new LongAdder()).add(n));
  }

  void retry() {
    retries.increment();
  }

  void poisoned() {
    poisoned.increment();
  }

  void tokenRenewal() {
    tokenRenewals.increment();
  }

  void callStarted(int batches) {
    calls.increment();
    batchesInFlight.addAndGet(batches);
  }

  void callEnded(int batches) {
    batchesInFlight.addAndGet(-batches);
  }

  /** Ship: chunks sent and not yet acknowledged change by {@code delta}. */
  void chunksInFlight(long delta) {
    batchesInFlight.addAndGet(delta);
  }

  /** Lines handed to the batcher, per source label. */
  public Map<String, Long> linesRead() {
    return snapshot(read);
  }

  /** Lines the collector acknowledged, per source label. */
  public Map<String, Long> linesAcked() {
    return snapshot(acked);
  }

  public long linesAckedTotal() {
    return acked.values().stream().mapToLong(LongAdder::sum).sum();
  }

  public long retries() {
    return retries.sum();
  }

  /**
   * Calls the collector refused as malformed ({@code INVALID_ARGUMENT}); their batches are kept
   * and sent again slowly, so each refusal of the same data counts again.
   */
  public long poisonedCalls() {
    return poisoned.sum();
  }

  /** Send calls started (each new call after a failure is a reconnect attempt). */
  public long calls() {
    return calls.sum();
  }

  public long tokenRenewals() {
    return tokenRenewals.sum();
  }

  public long batchesInFlight() {
    return batchesInFlight.get();
  }

  private static Map<String, Long> snapshot(Map<String, LongAdder> m) {
    Map<String, Long> out = new TreeMap<>();
    m.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }
}
