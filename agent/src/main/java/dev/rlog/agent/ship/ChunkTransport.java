package dev.rlog.agent.ship;

import io.grpc.Status;

/**
 * The {@code LogService.Ship} stream as the {@link ChunkShipper} needs it, so its window, ack and
 * retry logic can be driven by a fake in tests.
 *
 * <p>Contract: {@link #open} never blocks; the listener is told, on any thread, when the stream
 * can take more ({@code onReady}), of each {@code ChunkAck}, and exactly once how it ended
 * ({@code onClosed}; {@code OK} if the collector completed it). The {@link Stream}'s methods are
 * called from one thread at a time (the shipper's).
 */
public interface ChunkTransport {
  Stream open(String accessToken, Listener listener);

  /** One open Ship stream. */
  interface Stream {
    /** True while the transport takes a message without buffering beyond its window. */
    boolean isReady();

    /** Sends one serialized {@code log.Chunk}. */
    void send(WireChunk.Encoded chunk);

    /** Ends the stream from our side; nothing more is sent. */
    void halfClose();

    /** Abandons the stream; its unacknowledged chunks are to be sent again on another. */
    void cancel(String why);
  }

  /** What the stream reports; must be quick. */
  interface Listener {
    void onReady();

    void onAck(long seq);

    void onClosed(Status status);
  }
}
