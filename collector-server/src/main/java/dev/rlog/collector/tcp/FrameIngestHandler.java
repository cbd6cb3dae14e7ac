package dev.rlog.collector.tcp;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.collector.store.JsonLinesEncoder;
import dev.rlog.common.time.Clock;
import dev.rlog.common.wire.FrameDecoder;
import dev.rlog.common.wire.FrameSink;
import dev.rlog.common.wire.FrameTooLargeException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.FastThreadLocal;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One TCP ingest connection: decodes the length-prefixed records of each socket read, encodes
 * them as store records and hands the whole read to the {@link IngestQueue} as one {@link Chunk}.
 *
 * <p><b>Threading.</b> Every field is owned by the channel's event loop. Queue callbacks arrive
 * on the store writer's thread and only re-schedule onto that loop.
 *
 * <p><b>Backpressure.</b> A read that arrives while the queue is paused is kept raw (not
 * decoded) and reading stops ({@code autoRead=false}); so it does when a chunk is refused
 * ({@link IngestQueue#FULL}, kept encoded) or taken while the queue is now paused. When the queue
 * has room again what is kept is decoded and offered in order and reading resumes. Stopping reads
 * is what closes the TCP window and blocks the sender.
 *
 * <p><b>Bounds.</b> A paused connection holds one read: raw, at most {@code maxReadBytes}, or
 * (only for the few reads in progress when the queue filled up) that read's records encoded,
 * plus one incomplete record in the decoder. One exception:
 * once the peer has closed, Netty's epoll transport reads the socket to its end even with
 * {@code autoRead=false} (to see the EOF). Those reads are kept as one chunk each, offered in
 * order, so the queue's bound still holds; what the connection holds then is bounded by what
 * its socket receive buffer held when the peer closed, and no more can arrive. The NIO transport
 * does not read a paused socket at all.
 *
 * <p><b>Close.</b> A header above the cap: records before it in that read are still handed over,
 * then the connection is closed with one WARN line. At close, bytes of an incomplete record are
 * counted and dropped; anything held is still delivered once the queue has room, so a sender that
 * closes right after writing loses nothing that was read.
 */
final class FrameIngestHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(FrameIngestHandler.class);

  /** Encoded size guess per wire byte for the first read, in percent; refined per read. */
  private static final int INITIAL_EXPANSION_PERCENT = 200;
  private static final int MAX_EXPANSION_PERCENT = 4000;
  /** Upper bound of the up-front reservation; the encoder still grows past it when needed. */
  private static final int MAX_RESERVE = 8 << 20;
  /** A held chunk wasting more than this is copied down to its size (rare, paused path only). */
  private static final int TRIM_SLACK = 4096;

  private final IngestQueue queue;
  private final Clock clock;
  private final TcpIngestMetrics metrics;
  private final FastThreadLocal<byte[]> readScratch;
  private final Set<FrameIngestHandler> live;
  private final FrameDecoder decoder;
  private final JsonLinesEncoder encoder = new JsonLinesEncoder(256);
  private final FrameSink sink = this::onFrame;

  private ChannelHandlerContext ctx;
  private String peer = "?";
  private byte[] quotedPeer = JsonLinesEncoder.quote(peer);
  private long readPayloadBytes;
  private int expansionPercent = INITIAL_EXPANSION_PERCENT;

  /**
   * What was read but not handed over yet, oldest first: an encoded {@link Chunk} the queue
   * refused, or a raw read ({@code byte[]}) that arrived while the queue was paused (epoll keeps
   * reading a paused socket once the peer closed, to see the EOF). Handed over in order.
   */
  private final ArrayDeque<Object> held = new ArrayDeque<>();
  /** Not reading because of backpressure (or closed and still holding records). */
  private boolean paused;
  /** A queue callback is registered and will call {@link #onRoom}. */
  private boolean waiting;
  private boolean frameError;
  /** The queue is closed or the store failed: hand over what is here, then read no more. */
  private boolean stopReading;
  private boolean storeFailureLogged;
  private boolean inactive;
  /** Nothing left to do: everything handed over (or shutdown took it) and the channel closed. */
  private boolean finished;
  private boolean partialCounted;

  FrameIngestHandler(
      IngestQueue queue, Clock clock, TcpIngestMetrics metrics, int maxFrameLength,
      FastThreadLocal<byte[]> readScratch, Set<FrameIngestHandler> live) {
    this.queue = queue;
    this.clock = clock;
    this.metrics = metrics;
    this.readScratch = readScratch;
    this.live = live;
    this.decoder = new FrameDecoder(maxFrameLength);
  }

  EventLoop eventLoop() {
    return ctx.channel().eventLoop();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    // Tracked from here until finished, also after close while records are still held, so that
    // shutdown can hand them over.
    live.add(this);
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    peer = peerOf(ctx.channel().remoteAddress());
    quotedPeer = JsonLinesEncoder.quote(peer);
    metrics.connectionOpened();
    log.debug("TCP ingest connection from {}", peer);
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf buf = (ByteBuf) msg;
    try {
      if (frameError || finished) {
        return; // closing: what follows a bad header (or shutdown's hand-over) is not read
      }
      int n = buf.readableBytes();
      if (paused || queue.isPaused()) {
        // Above the high watermark (or already holding): keep this read as it came, not
        // decoded. Raw bytes are the smallest form (encoded records are ~2x, up to ~20x for tiny
        // records), so a paused connection holds at most one read of maxReadBytes.
        byte[] raw = new byte[n];
        buf.getBytes(buf.readerIndex(), raw);
        held.addLast(raw);
        pause();
        return;
      }
      readPayloadBytes = 0;
      encoder.receiveTime(clock.currentTimeMillis());
      encoder.reserve((int) Math.min(MAX_RESERVE, (long) n * expansionPercent / 100 + 256));
      FrameTooLargeException tooLarge = decode(buf, n);
      Chunk chunk = finishRead(n);
      if (chunk != null && !handOver(chunk)) {
        held.addLast(trimmed(chunk));
        pause();
      }
      if (!paused) {
        afterHandOver();
      }
      if (tooLarge != null) {
        frameTooLarge(tooLarge);
      }
    } finally {
      buf.release();
    }
  }

  /** The records the encoder holds from one read as a chunk (or null), with the metrics. */
  private Chunk finishRead(int wireBytes) {
    if (encoder.isEmpty()) {
      return null;
    }
    metrics.recordsReceived(encoder.records(), readPayloadBytes);
    expansionPercent = (int) Math.max(100,
        Math.min(MAX_EXPANSION_PERCENT, (long) encoder.length() * 100 / Math.max(1, wireBytes)));
    return encoder.finish(List.of());
  }

  private void frameTooLarge(FrameTooLargeException tooLarge) {
    frameError = true;
    metrics.frameTooLarge();
    log.warn("closing TCP ingest connection from {}: record declares {} bytes, above the cap"
        + " of {}", peer, tooLarge.declaredLength(), tooLarge.maxFrameLength());
    if (!inactive) {
      ctx.close();
    }
  }

  /** Runs the decoder over the read; returns the oversize error instead of throwing it. */
  private FrameTooLargeException decode(ByteBuf buf, int n) {
    try {
      if (buf.hasArray()) {
        decoder.decode(buf.array(), buf.arrayOffset() + buf.readerIndex(), n, sink);
      } else {
        // Direct buffers: copy through this event loop's scratch array, which no connection
        // keeps between reads (views end with the decode call), so idle connections hold none.
        byte[] scratch = readScratch.get();
        int from = buf.readerIndex();
        for (int done = 0; done < n; ) {
          int len = Math.min(scratch.length, n - done);
          buf.getBytes(from + done, scratch, 0, len);
          decoder.decode(scratch, 0, len, sink);
          done += len;
        }
      }
      return null;
    } catch (FrameTooLargeException e) {
      return e;
    }
  }

  private void onFrame(byte[] buf, int off, int len) {
    encoder.tcpRecord(quotedPeer, buf, off, len);
    readPayloadBytes += len;
  }

  /** After everything was handed over: stop reading if the queue is paused or gone. */
  private void afterHandOver() {
    if (stopReading) {
      if (!inactive) {
        ctx.close();
      }
    } else if (queue.isPaused() && !inactive) {
      // Taken, but the queue is above its high watermark: read no more until it drains.
      pause();
    }
  }

  /**
   * Offers what is held, in order, decoding kept raw reads on the way. False when the queue
   * refused a chunk (it stays held, encoded, at the head).
   */
  private boolean deliverHeld() {
    while (!held.isEmpty()) {
      Object head = held.peekFirst();
      if (head instanceof byte[] raw) {
        held.removeFirst();
        if (frameError) {
          continue; // bytes after a bad header are never stored
        }
        readPayloadBytes = 0;
        encoder.receiveTime(clock.currentTimeMillis());
        encoder.reserve((int) Math.min(MAX_RESERVE,
            (long) raw.length * expansionPercent / 100 + 256));
        FrameTooLargeException tooLarge = null;
        try {
          decoder.decode(raw, 0, raw.length, sink);
        } catch (FrameTooLargeException e) {
          tooLarge = e;
        }
        Chunk chunk = finishRead(raw.length);
        if (chunk != null) {
          held.addFirst(trimmed(chunk));
        }
        if (tooLarge != null) {
          frameTooLarge(tooLarge);
        }
        continue;
      }
      if (!handOver((Chunk) head)) {
        return false;
      }
      held.removeFirst();
    }
    return true;
  }

  /** Offers one chunk; false when the queue is full and the chunk must be kept. */
  private boolean handOver(Chunk chunk) {
    try {
      if (!stopReading) {
        try {
          return queue.tryOffer(chunk) != IngestQueue.FULL;
        } catch (IllegalStateException closedOrFailed) {
          stopReading = true;
        }
      }
      // The queue is closed (the collector is stopping): the writer still drains what it takes,
      // so hand over what was read, then close this connection.
      queue.forceOffer(chunk);
      return true;
    } catch (IllegalStateException storeFailed) {
      metrics.recordsDropped(chunk.records());
      if (!storeFailureLogged) {
        storeFailureLogged = true;
        log.error("TCP ingest from {}: the store failed, dropping received records", peer,
            storeFailed);
      }
      return true;
    }
  }

  private void pause() {
    if (!paused) {
      paused = true;
      metrics.paused();
      if (!inactive) {
        ctx.channel().config().setAutoRead(false);
      }
    }
    waitForRoom();
  }

  private void waitForRoom() {
    if (waiting) {
      return;
    }
    waiting = true;
    EventLoop loop = eventLoop();
    Runnable wake = () -> {
      try {
        loop.execute(this::onRoom);
      } catch (RejectedExecutionException e) {
        // The event loop has shut down, which happens only after shutdown handed over what this
        // connection held.
        log.debug("TCP ingest connection from {} woke after its event loop stopped", peer);
      }
    };
    if (!held.isEmpty() && !queue.isPaused()) {
      // Refused below the high watermark: the chunk is larger than the room between the
      // watermark and the capacity. No resume will come, so retry once the writer has committed
      // what is queued now.
      queue.whenCommitted(queue.lastSeq(), error -> wake.run());
    } else {
      queue.whenResumed(wake);
    }
  }

  /** On the event loop: the queue may have room again. */
  private void onRoom() {
    waiting = false;
    if (finished) {
      return;
    }
    if (!deliverHeld()) {
      waitForRoom();
      return;
    }
    if (stopReading && !inactive) {
      ctx.close();
    } else if (queue.isPaused() && !inactive && !stopReading) {
      waitForRoom();
      return;
    }
    resume();
  }

  private void resume() {
    if (!paused) {
      return;
    }
    paused = false;
    metrics.resumed();
    if (inactive) {
      finish();
    } else if (!stopReading) {
      // setAutoRead(true) also issues the first read().
      ctx.channel().config().setAutoRead(true);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    inactive = true;
    countPartialRecord();
    metrics.connectionClosed();
    log.debug("TCP ingest connection from {} closed", peer);
    if (paused && held.isEmpty()) {
      resume(); // nothing left to hand over: no longer counts as paused
    } else if (!paused) {
      finish();
    }
    // else: still holding records; onRoom delivers them and then finishes.
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    metrics.connectionError();
    if (cause instanceof IOException) {
      log.debug("TCP ingest connection from {} failed: {}", peer, cause.toString());
    } else {
      log.warn("TCP ingest connection from {} failed, closing it", peer, cause);
    }
    ctx.close();
  }

  /**
   * Shutdown, on the event loop: stops reading, forces what this connection holds into the queue
   * (past its bound, by what it held) and closes the channel. Returns the close future.
   */
  ChannelFuture flushForShutdown() {
    if (!finished) {
      if (!inactive) {
        ctx.channel().config().setAutoRead(false);
      }
      stopReading = true; // handOver now forces
      deliverHeld();
      if (paused) {
        paused = false;
        metrics.resumed();
      }
      finish();
    }
    ctx.channel().close();
    return ctx.channel().closeFuture();
  }

  private void finish() {
    countPartialRecord();
    finished = true;
    live.remove(this);
  }

  /**
   * Once closed and every kept raw read is decoded: the bytes of an incomplete record left in
   * the decoder are counted and dropped, never stored.
   */
  private void countPartialRecord() {
    if (partialCounted || !inactive || held.stream().anyMatch(h -> h instanceof byte[])) {
      return;
    }
    partialCounted = true;
    int partial = decoder.bufferedBytes();
    if (partial > 0 && !frameError) {
      metrics.partialDropped(partial);
      log.debug("TCP ingest connection from {} closed inside a record: {} bytes dropped", peer,
          partial);
    }
  }

  private static Chunk trimmed(Chunk c) {
    if (c.bytes().length - c.length() <= c.length() + TRIM_SLACK) {
      return c;
    }
    return new Chunk(Arrays.copyOf(c.bytes(), c.length()), c.length(), c.records(),
        c.positions());
  }

  /** "ip:port", with IPv6 addresses in brackets. */
  static String peerOf(SocketAddress address) {
    if (address instanceof InetSocketAddress inet) {
      InetAddress ip = inet.getAddress();
      String host = ip == null ? inet.getHostString() : ip.getHostAddress();
      if (ip instanceof Inet6Address) {
        host = "[" + host + "]";
      }
      return host + ":" + inet.getPort();
    }
    return String.valueOf(address);
  }
}
