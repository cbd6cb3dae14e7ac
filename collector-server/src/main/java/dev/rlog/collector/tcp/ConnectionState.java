package dev.rlog.collector.tcp;

/**
 * Where one TCP ingest connection is; {@link FrameIngestHandler#on} is the only place that moves
 * it. Table (state × event → next state), anything else is a bug:
 *
 * <pre>
 *  READING  ──QUEUE_BUSY──► PAUSED ──ROOM──► READING
 *  READING | PAUSED ──STOP──► CLOSING ──ROOM (all handed over)──► CLOSING (channel closed)
 *  any open ──INACTIVE──► PEER_CLOSED_HOLDING (records held) | FINISHED (nothing held)
 *  PEER_CLOSED_HOLDING ──ROOM──► FINISHED
 *  any ──SHUTDOWN──► FINISHED
 * </pre>
 */
enum ConnectionState {
  /** Reading, decoding and handing over each read; holds nothing. */
  READING,
  /** Not reading (autoRead off): the queue is paused or refused a chunk; may hold reads. */
  PAUSED,
  /**
   * Reading no more (oversized frame, queue closed, partial budget or timeout): hands over what
   * is held, then closes the channel.
   */
  CLOSING,
  /** The peer closed while records were held: they go out once the queue has room. */
  PEER_CLOSED_HOLDING,
  /** Nothing left to do: handed over (or dropped and counted), channel closed or closing. */
  FINISHED;

  /** What happens to a connection. */
  enum Event { QUEUE_BUSY, ROOM, STOP, INACTIVE, SHUTDOWN }

  /** The next state; throws for a transition the table does not have. */
  ConnectionState next(Event e, boolean holding) {
    ConnectionState next = switch (e) {
      case SHUTDOWN -> FINISHED;
      case INACTIVE -> this == FINISHED ? FINISHED : holding ? PEER_CLOSED_HOLDING : FINISHED;
      case QUEUE_BUSY -> this == READING || this == PAUSED ? PAUSED : this;
      case STOP -> this == READING || this == PAUSED ? CLOSING : this;
      case ROOM -> switch (this) {
        case PAUSED -> READING;
        case PEER_CLOSED_HOLDING -> FINISHED;
        default -> this;
      };
    };
    if (e == Event.QUEUE_BUSY && this == FINISHED) {
      throw new IllegalStateException("QUEUE_BUSY in " + this);
    }
    return next;
  }

  /** True when the connection is not reading because of backpressure (the paused gauge). */
  boolean backpressured() {
    return this == PAUSED || this == PEER_CLOSED_HOLDING;
  }
}
