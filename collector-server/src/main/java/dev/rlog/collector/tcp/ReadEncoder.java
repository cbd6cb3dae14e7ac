package dev.rlog.collector.tcp;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.buffer.ChunkBufferPool;
import dev.rlog.collector.store.JsonLinesEncoder;
import dev.rlog.common.wire.FrameDecoder;
import dev.rlog.common.wire.FrameSink;
import dev.rlog.common.wire.FrameTooLargeException;
import java.util.Arrays;
import java.util.List;

/**
 * Turns one read of a connection into one {@link Chunk} of store records: the
 * {@link FrameDecoder} (which keeps an incomplete record across reads) and the
 * {@link JsonLinesEncoder}, with the expansion estimate that sizes the encoder up front. Pure: no
 * Netty, no queue, one owner thread. Used alike for live reads and for raw reads held while
 * paused.
 *
 * <p><b>Buffers.</b> Each read's records go into a buffer from the encoder's pool, sized from
 * the last read's expansion (encoded bytes per wire byte) plus a sixteenth, so it rarely grows,
 * and rounded up to a {@link ChunkBufferPool#sizeClass}; the store writer gives it back once
 * written. A read that completes no record gives its buffer
 * back at once: a connection between records holds none.
 *
 * <p>Use {@link #begin}, one or more {@link #feed}, then {@link #finish}; or {@link #encode} for
 * an array. An oversized header does not throw: it ends up in {@link EncodedRead#tooLarge()},
 * the records before it are in the chunk, and every later feed is ignored ({@link #failed()}).
 */
final class ReadEncoder {
  /** Encoded size guess per wire byte for the first read, in percent; refined per read. */
  private static final int INITIAL_EXPANSION_PERCENT = 200;
  private static final int MAX_EXPANSION_PERCENT = 4000;
  /** Upper bound of the up-front reservation; the encoder still grows past it when needed. */
  private static final int MAX_RESERVE = 8 << 20;
  /** A chunk wasting more than this is copied down to its size when it is held. */
  private static final int TRIM_SLACK = 4096;

  /** The records of one read: {@code chunk} is null when none completed. */
  record EncodedRead(Chunk chunk, long records, long payloadBytes,
      FrameTooLargeException tooLarge) {}

  private final FrameDecoder decoder;
  private final JsonLinesEncoder encoder;
  private final FrameSink sink = this::onFrame;
  private byte[] quotedPeer;
  private int expansionPercent = INITIAL_EXPANSION_PERCENT;
  private long payloadBytes;
  private int wireBytes;
  private FrameTooLargeException tooLarge;
  private boolean failed;

  ReadEncoder(int maxFrameLength, String peer) {
    this(maxFrameLength, peer, ChunkBufferPool.shared());
  }

  ReadEncoder(int maxFrameLength, String peer, ChunkBufferPool pool) {
    this.decoder = new FrameDecoder(maxFrameLength);
    this.encoder = new JsonLinesEncoder(256, pool);
    this.quotedPeer = JsonLinesEncoder.quote(peer);
  }

  void peer(String peer) {
    quotedPeer = JsonLinesEncoder.quote(peer);
  }

  /** Decodes and encodes {@code buf[off, off + len)} received at {@code recvMillis}. */
  EncodedRead encode(byte[] buf, int off, int len, long recvMillis) {
    begin(len, recvMillis);
    feed(buf, off, len);
    return finish();
  }

  void begin(int expectedWireBytes, long recvMillis) {
    payloadBytes = 0;
    wireBytes = 0;
    tooLarge = null;
    encoder.receiveTime(recvMillis);
    // The last read's ratio plus a sixteenth (reads differ by a record or so, and a buffer that
    // is a little short costs a copy of everything encoded so far), rounded up to a pool size
    // class so the next read of about the same size finds this buffer again.
    long estimate = (long) expectedWireBytes * expansionPercent / 100 + 256;
    int reserve = (int) Math.min(MAX_RESERVE, estimate + (estimate >> 4));
    encoder.reserve(ChunkBufferPool.sizeClass(reserve));
  }

  void feed(byte[] buf, int off, int len) {
    if (failed) {
      return; // bytes after a bad header are never stored
    }
    wireBytes += len;
    try {
      decoder.decode(buf, off, len, sink);
    } catch (FrameTooLargeException e) {
      failed = true;
      tooLarge = e;
    }
  }

  EncodedRead finish() {
    if (encoder.isEmpty()) {
      encoder.discard(); // a connection between records holds no buffer
      return new EncodedRead(null, 0, 0, tooLarge);
    }
    long records = encoder.records();
    expansionPercent = (int) Math.max(100,
        Math.min(MAX_EXPANSION_PERCENT, (long) encoder.length() * 100 / Math.max(1, wireBytes)));
    return new EncodedRead(encoder.finish(List.of()), records, payloadBytes, tooLarge);
  }

  /** Bytes of an incomplete record held by the decoder (header and payload so far). */
  int partialBytes() {
    return failed ? 0 : decoder.bufferedBytes();
  }

  /** True after an oversized header: nothing more is decoded. */
  boolean failed() {
    return failed;
  }

  private void onFrame(byte[] buf, int off, int len) {
    encoder.tcpRecord(quotedPeer, buf, off, len);
    payloadBytes += len;
  }

  /**
   * The chunk, copied down to its size when its buffer is mostly slack (to be held); the large
   * buffer then goes back to its pool at once.
   */
  static Chunk trimmed(Chunk c) {
    if (c.bytes().length - c.length() <= c.length() + TRIM_SLACK) {
      return c;
    }
    Chunk small = new Chunk(Arrays.copyOf(c.bytes(), c.length()), c.length(), c.records(),
        c.positions());
    c.releaseBuffer();
    return small;
  }
}
