package dev.rlog.collector.tcp;

/**
 * What the TCP ingest server reports. Called from every event-loop thread at once, so an
 * implementation must be thread-safe and cheap (no locks held long, no I/O): calls come once per
 * read or per connection event, never per record. Every method defaults to doing nothing.
 *
 * @see TcpIngestCounters
 */
public interface TcpIngestMetrics {
  /** Reports nothing. */
  TcpIngestMetrics NOOP = new TcpIngestMetrics() {};

  /** A connection was accepted. */
  default void connectionOpened() {}

  /** A connection closed, for whatever reason. */
  default void connectionClosed() {}

  /** One read decoded {@code records} whole records carrying {@code payloadBytes} bytes. */
  default void recordsReceived(long records, long payloadBytes) {}

  /** A header declared more than the cap; that connection is being closed. */
  default void frameTooLarge() {}

  /** A connection closed with {@code bytes} of one incomplete record: dropped, not stored. */
  default void partialDropped(long bytes) {}

  /** A connection stopped reading because the ingest queue is paused or full. */
  default void paused() {}

  /** A paused connection reads again (or closed with nothing left to hand over). */
  default void resumed() {}

  /** A connection failed with an I/O or other error (resets are routine) and was closed. */
  default void connectionError() {}

  /** Received records that could not be handed to the store because it failed. */
  default void recordsDropped(long records) {}

  /** A connection from a source outside {@code tcp.allow} was closed at once. */
  default void refusedNotAllowed() {}

  /** A connection past {@code tcp.max_connections} was closed at once. */
  default void refusedMaxConnections() {}

  /** A connection was closed because the partial-record budget was exceeded. */
  default void partialBudgetExceeded() {}

  /** A connection was closed because its incomplete record received nothing for too long. */
  default void partialTimedOut() {}

  /**
   * A connection to a TLS port failed its handshake (a plaintext client, an unknown or missing
   * client certificate, no common protocol) and was closed before any record was read.
   */
  default void tlsHandshakeFailed() {}
}
