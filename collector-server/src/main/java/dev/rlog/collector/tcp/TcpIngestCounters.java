package dev.rlog.collector.tcp;

import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link TcpIngestMetrics} kept in plain counters, for export (Prometheus) and for tests. Counters
 * only grow; {@link #openConnections()} and {@link #pausedConnections()} are gauges derived from
 * them. Thread-safe; readers get a value that was true at some instant per counter (not one
 * consistent snapshot across counters).
 */
public final class TcpIngestCounters implements TcpIngestMetrics {
  private final AtomicLong connectionsOpened = new AtomicLong();
  private final AtomicLong connectionsClosed = new AtomicLong();
  private final AtomicLong recordsReceived = new AtomicLong();
  private final AtomicLong payloadBytesReceived = new AtomicLong();
  private final AtomicLong framesTooLarge = new AtomicLong();
  private final AtomicLong partialRecordsDropped = new AtomicLong();
  private final AtomicLong partialBytesDropped = new AtomicLong();
  private final AtomicLong pauses = new AtomicLong();
  private final AtomicLong resumes = new AtomicLong();
  private final AtomicLong connectionErrors = new AtomicLong();
  private final AtomicLong recordsDropped = new AtomicLong();
  private final AtomicLong refusedNotAllowed = new AtomicLong();
  private final AtomicLong refusedMaxConnections = new AtomicLong();
  private final AtomicLong tlsHandshakeFailed = new AtomicLong();
  private final AtomicLong partialBudgetExceeded = new AtomicLong();
  private final AtomicLong partialTimedOut = new AtomicLong();

  @Override
  public void connectionOpened() {
    connectionsOpened.incrementAndGet();
  }

  @Override
  public void connectionClosed() {
    connectionsClosed.incrementAndGet();
  }

  @Override
  public void recordsReceived(long records, long payloadBytes) {
    recordsReceived.addAndGet(records);
    payloadBytesReceived.addAndGet(payloadBytes);
  }

  @Override
  public void frameTooLarge() {
    framesTooLarge.incrementAndGet();
  }

  @Override
  public void partialDropped(long bytes) {
    partialRecordsDropped.incrementAndGet();
    partialBytesDropped.addAndGet(bytes);
  }

  @Override
  public void paused() {
    pauses.incrementAndGet();
  }

  @Override
  public void resumed() {
    resumes.incrementAndGet();
  }

  @Override
  public void connectionError() {
    connectionErrors.incrementAndGet();
  }

  @Override
  public void recordsDropped(long records) {
    recordsDropped.addAndGet(records);
  }

  public long connectionsOpened() {
    return connectionsOpened.get();
  }

  public long connectionsClosed() {
    return connectionsClosed.get();
  }

  /** Gauge: connections open now. */
  public long openConnections() {
    // closed first: read the other way round a racing open+close could show -1
    long closed = connectionsClosed.get();
    return connectionsOpened.get() - closed;
  }

  /** Whole records decoded (each is handed to the store, or counted in {@link #recordsDropped}). */
  public long recordsReceived() {
    return recordsReceived.get();
  }

  public long payloadBytesReceived() {
    return payloadBytesReceived.get();
  }

  /** Connections closed because a header declared more than the cap. */
  public long framesTooLarge() {
    return framesTooLarge.get();
  }

  /** Incomplete records dropped at close (at most one per connection). */
  public long partialRecordsDropped() {
    return partialRecordsDropped.get();
  }

  /** Bytes of those incomplete records (header and payload received so far). */
  public long partialBytesDropped() {
    return partialBytesDropped.get();
  }

  /** How many times a connection stopped reading for backpressure. */
  public long pauses() {
    return pauses.get();
  }

  /** Gauge: connections not reading now because of backpressure. */
  public long pausedConnections() {
    long resumed = resumes.get();
    return pauses.get() - resumed;
  }

  public long connectionErrors() {
    return connectionErrors.get();
  }

  /** Received records lost because the store failed; 0 unless the store is broken. */
  public long recordsDropped() {
    return recordsDropped.get();
  }

  @Override
  public void refusedNotAllowed() {
    refusedNotAllowed.incrementAndGet();
  }

  @Override
  public void refusedMaxConnections() {
    refusedMaxConnections.incrementAndGet();
  }

  @Override
  public void partialBudgetExceeded() {
    partialBudgetExceeded.incrementAndGet();
  }

  @Override
  public void partialTimedOut() {
    partialTimedOut.incrementAndGet();
  }

  @Override
  public void tlsHandshakeFailed() {
    tlsHandshakeFailed.incrementAndGet();
  }

  /** Connections to a TLS port closed because their handshake failed. */
  public long tlsHandshakesFailed() {
    return tlsHandshakeFailed.get();
  }

  /** Connections closed at once: the source is not in {@code tcp.allow}. */
  public long connectionsRefusedNotAllowed() {
    return refusedNotAllowed.get();
  }

  /** Connections closed at once: {@code tcp.max_connections} were open. */
  public long connectionsRefusedMaxConnections() {
    return refusedMaxConnections.get();
  }

  /** Connections closed because the partial-record budget was exceeded. */
  public long connectionsClosedPartialBudget() {
    return partialBudgetExceeded.get();
  }

  /** Connections closed because an incomplete record idled past {@code tcp.partial_timeout}. */
  public long connectionsClosedPartialTimeout() {
    return partialTimedOut.get();
  }
}
