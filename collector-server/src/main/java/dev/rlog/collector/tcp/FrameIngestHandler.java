package dev.rlog.collector.tcp;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.collector.flow.ChunkQueue;
import dev.rlog.collector.flow.OfferResult;
import dev.rlog.collector.tcp.ConnectionState.Event;
import dev.rlog.collector.tcp.HeldReads.EncodedChunk;
import dev.rlog.collector.tcp.HeldReads.RawRead;
import dev.rlog.collector.tcp.ReadEncoder.EncodedRead;
import dev.rlog.common.time.Clock;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One TCP ingest connection: maps Netty events to {@link ConnectionState} events, encodes each
 * read with a {@link ReadEncoder} into one {@link Chunk} and offers it to the {@link ChunkQueue}.
 *
 * <p><b>Threading.</b> Every field is owned by the channel's event loop. Queue and budget
 * callbacks arrive on other threads and only re-schedule onto that loop.
 *
 * <p><b>Backpressure.</b> A read that arrives while the queue is paused is kept raw (not decoded)
 * and the connection goes {@link ConnectionState#PAUSED} ({@code autoRead=false}); so it does
 * when a chunk is refused ({@link OfferResult.Full}, kept encoded) or taken while the queue is
 * now paused. When the queue has room again what is held is encoded (the same encoder as live
 * reads) and offered in order, and reading resumes.
 *
 * <p><b>Bounds.</b> A paused connection holds one read: raw, at most {@code maxReadBytes}, or
 * that read's records encoded. (With epoll, a paused connection whose peer has closed is read to
 * its end to see the EOF; those reads are held raw too, bounded by what its socket receive buffer
 * held.) The incomplete record in the decoder counts against the shared {@link PartialBudget};
 * past it the largest holder is closed. An incomplete record that receives nothing for
 * {@code partialTimeout} while reading closes the connection. Each is counted and logged once.
 *
 * <p><b>Close.</b> A header above the cap: records before it are still handed over, then the
 * connection is closed with one WARN line. At close, bytes of an incomplete record are counted
 * and dropped; anything held is still delivered once the queue has room.
 */
final class FrameIngestHandler extends ChannelInboundHandlerAdapter
    implements PartialBudget.Holder {
  private static final Logger log = LoggerFactory.getLogger(FrameIngestHandler.class);

  private final ChunkQueue queue;
  private final Clock clock;
  private final TcpIngestMetrics metrics;
  private final FastThreadLocal<byte[]> readScratch;
  private final Set<FrameIngestHandler> live;
  private final PartialBudget budget;
  private final long partialTimeoutNanos;
  private final ReadEncoder reads;
  private final HeldReads held = new HeldReads();

  private ChannelHandlerContext ctx;
  private String peer = "?";
  private ConnectionState state = ConnectionState.READING;
  /** A queue callback is registered and will call {@link #onRoom}. */
  private boolean roomCallbackPending;
  /** The queue said it is closed: hand over with forced offers from now on. */
  private boolean queueClosed;
  private boolean storeFailureLogged;
  private boolean partialCounted;
  private long lastPartialProgressNanos;
  /** What {@link #budget} was last told this connection holds. */
  private int reportedPartialBytes;
  private ScheduledFuture<?> partialTimer;

  FrameIngestHandler(
      ChunkQueue queue, Clock clock, TcpIngestMetrics metrics, int maxFrameLength,
      FastThreadLocal<byte[]> readScratch, Set<FrameIngestHandler> live, PartialBudget budget,
      Duration partialTimeout) {
    this.queue = queue;
    this.clock = clock;
    this.metrics = metrics;
    this.readScratch = readScratch;
    this.live = live;
    this.budget = budget;
    this.partialTimeoutNanos = partialTimeout.toNanos();
    this.reads = new ReadEncoder(maxFrameLength, peer);
  }

  EventExecutor eventLoop() {
    return ctx.executor();
  }

  ConnectionState state() {
    return state;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    // Tracked until finished, also after close while records are still held, so that shutdown
    // can hand them over.
    live.add(this);
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    peer = peerOf(ctx.channel().remoteAddress());
    reads.peer(peer);
    metrics.connectionOpened();
    log.debug("TCP ingest connection from {}", peer);
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf buf = (ByteBuf) msg;
    try {
      int n = buf.readableBytes();
      switch (state) {
        case READING -> {
          if (queue.isPaused()) {
            holdRaw(buf, n);
          } else {
            readLive(buf, n);
          }
        }
        case PAUSED -> holdRaw(buf, n); // epoll reads a paused socket whose peer closed
        default -> { } // closing: what follows a stop is not read
      }
    } finally {
      buf.release();
    }
  }

  /** Keeps the read raw (its smallest form) and stops reading. */
  private void holdRaw(ByteBuf buf, int n) {
    byte[] raw = new byte[n];
    buf.getBytes(buf.readerIndex(), raw);
    held.addLast(new RawRead(raw));
    on(Event.QUEUE_BUSY);
  }

  private void readLive(ByteBuf buf, int n) {
    reads.begin(n, clock.currentTimeMillis());
    if (buf.hasArray()) {
      reads.feed(buf.array(), buf.arrayOffset() + buf.readerIndex(), n);
    } else {
      // Direct buffers: copy through this event loop's scratch array, which no connection keeps
      // between reads, so idle connections hold none.
      byte[] scratch = readScratch.get();
      int from = buf.readerIndex();
      for (int done = 0; done < n; ) {
        int len = Math.min(scratch.length, n - done);
        buf.getBytes(from + done, scratch, 0, len);
        reads.feed(scratch, 0, len);
        done += len;
      }
    }
    if (n > 0) {
      lastPartialProgressNanos = clock.nanoTime();
    }
    EncodedRead r = reads.finish();
    if (r.chunk() != null) {
      metrics.recordsReceived(r.records(), r.payloadBytes());
      if (!handOver(r.chunk())) {
        held.addLast(new EncodedChunk(ReadEncoder.trimmed(r.chunk())));
        on(Event.QUEUE_BUSY);
      } else if (queue.isPaused()) {
        on(Event.QUEUE_BUSY); // taken, but above the high watermark: read no more for now
      }
    }
    afterDecode(r);
    if (queueClosed) {
      on(Event.STOP);
    }
    armPartialTimer();
  }

  /** After any decode: an oversized header stops the connection; the partial goes on budget. */
  private void afterDecode(EncodedRead r) {
    if (r.tooLarge() != null) {
      metrics.frameTooLarge();
      log.warn("closing TCP ingest connection from {}: record declares {} bytes, above the cap"
          + " of {}", peer, r.tooLarge().declaredLength(), r.tooLarge().maxFrameLength());
      on(Event.STOP);
    }
    int partial = reads.partialBytes();
    if (partial != reportedPartialBytes && ctx.channel().isActive()
        && (state == ConnectionState.READING || state == ConnectionState.PAUSED)) {
      // Only when it changed: most reads end on a record boundary, 0 before and after.
      reportedPartialBytes = partial;
      if (!budget.hold(this, partial)) {
        closeForBudget();
      }
    }
  }

  /**
   * Offers what is held, in order, encoding raw reads on the way. False when the queue refused a
   * chunk (it stays held, encoded, at the head).
   */
  private boolean deliverHeld() {
    while (!held.isEmpty()) {
      if (held.peekFirst() instanceof RawRead raw) {
        held.removeFirst();
        EncodedRead r = reads.encode(raw.bytes(), 0, raw.bytes().length,
            clock.currentTimeMillis());
        if (r.chunk() != null) {
          metrics.recordsReceived(r.records(), r.payloadBytes());
          held.addFirst(new EncodedChunk(ReadEncoder.trimmed(r.chunk())));
        }
        afterDecode(r);
        continue;
      }
      EncodedChunk head = (EncodedChunk) held.peekFirst();
      if (!handOver(head.chunk())) {
        return false;
      }
      held.removeFirst();
    }
    return true;
  }

  /** Offers one chunk; false when the queue is full and the chunk must be kept. */
  private boolean handOver(Chunk chunk) {
    OfferResult result = queueClosed ? queue.forceOffer(chunk) : queue.offer(chunk);
    if (result instanceof OfferResult.Closed) {
      // The collector is stopping: the writer still drains what it takes, so hand over what was
      // read, then close this connection.
      queueClosed = true;
      result = queue.forceOffer(chunk);
    }
    if (result instanceof OfferResult.Full) {
      return false;
    }
    if (result instanceof OfferResult.Failed failed) {
      metrics.recordsDropped(chunk.records());
      if (!storeFailureLogged) {
        storeFailureLogged = true;
        log.error("TCP ingest from {}: the store failed, dropping received records", peer,
            failed.cause());
      }
    }
    return true;
  }

  /** The one transition method: moves the state and performs what entering the new one means. */
  private void on(Event e) {
    ConnectionState from = state;
    ConnectionState to = from.next(e, !held.isEmpty());
    state = to;
    if (!from.backpressured() && to.backpressured()) {
      metrics.paused();
    } else if (from.backpressured() && !to.backpressured()) {
      metrics.resumed();
    }
    boolean open = ctx.channel().isActive();
    switch (to) {
      case READING -> {
        if (from != ConnectionState.READING && open) {
          lastPartialProgressNanos = clock.nanoTime(); // the pause was ours, not the peer's
          ctx.channel().config().setAutoRead(true); // also issues the first read()
          armPartialTimer();
        }
      }
      case PAUSED -> {
        if (open) {
          ctx.channel().config().setAutoRead(false);
        }
        waitForRoom();
      }
      case CLOSING -> {
        if (open) {
          ctx.channel().config().setAutoRead(false);
        }
        if (held.isEmpty()) {
          ctx.close();
        } else {
          waitForRoom();
        }
      }
      case PEER_CLOSED_HOLDING -> waitForRoom();
      case FINISHED -> {
        if (from != ConnectionState.FINISHED) {
          finish();
        }
      }
      default -> throw new AssertionError(to);
    }
  }

  private void waitForRoom() {
    if (roomCallbackPending) {
      return;
    }
    roomCallbackPending = true;
    EventExecutor loop = ctx.executor();
    Runnable wake = () -> {
      try {
        loop.execute(this::onRoom);
      } catch (RejectedExecutionException e) {
        // The loop stopped, which happens only after shutdown handed over what was held.
        log.debug("TCP ingest connection from {} woke after its event loop stopped", peer);
      }
    };
    if (!held.isEmpty() && !queue.isPaused()) {
      // Refused below the high watermark: the chunk is larger than the room between the
      // watermark and the capacity. No resume will come, so retry once what is queued now is
      // committed.
      queue.whenCommitted(queue.lastSeq(), error -> wake.run());
    } else {
      queue.whenResumed(wake);
    }
  }

  /** On the event loop: the queue may have room again. */
  private void onRoom() {
    roomCallbackPending = false;
    if (state == ConnectionState.FINISHED) {
      return;
    }
    if (!deliverHeld()) {
      waitForRoom();
      return;
    }
    if (queueClosed && state != ConnectionState.PEER_CLOSED_HOLDING) {
      on(Event.STOP);
    }
    switch (state) {
      case PAUSED -> {
        if (queue.isPaused()) {
          waitForRoom();
        } else {
          on(Event.ROOM);
        }
      }
      case CLOSING -> ctx.close(); // everything handed over
      case PEER_CLOSED_HOLDING -> on(Event.ROOM);
      default -> { }
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    metrics.connectionClosed();
    log.debug("TCP ingest connection from {} closed", peer);
    on(Event.INACTIVE);
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

  /** From any thread: the budget chose this connection to close. */
  @Override
  public void evict() {
    try {
      ctx.executor().execute(() -> {
        if (state == ConnectionState.READING || state == ConnectionState.PAUSED) {
          closeForBudget();
        }
      });
    } catch (RejectedExecutionException e) {
      log.debug("TCP ingest connection from {} evicted after its event loop stopped", peer);
    }
  }

  private void closeForBudget() {
    metrics.partialBudgetExceeded();
    log.warn("closing TCP ingest connection from {}: incomplete records of all connections"
        + " exceed tcp.partial_bytes_budget ({} bytes); this one holds the largest ({} bytes)",
        peer, budget.limit(), reads.partialBytes());
    on(Event.STOP);
  }

  /** Schedules the partial-record check when a record is incomplete and none is scheduled. */
  private void armPartialTimer() {
    if (partialTimer != null || state != ConnectionState.READING || reads.partialBytes() == 0) {
      return;
    }
    long due = lastPartialProgressNanos + partialTimeoutNanos - clock.nanoTime();
    partialTimer = ctx.executor().schedule(this::onPartialTimer, Math.max(0, due),
        TimeUnit.NANOSECONDS);
  }

  private void onPartialTimer() {
    partialTimer = null;
    if (state != ConnectionState.READING || reads.partialBytes() == 0) {
      return; // re-armed by the next read or resume
    }
    if (clock.nanoTime() - lastPartialProgressNanos >= partialTimeoutNanos) {
      metrics.partialTimedOut();
      log.warn("closing TCP ingest connection from {}: an incomplete record ({} bytes) received"
          + " nothing for tcp.partial_timeout ({} ms)", peer, reads.partialBytes(),
          TimeUnit.NANOSECONDS.toMillis(partialTimeoutNanos));
      on(Event.STOP);
    } else {
      armPartialTimer();
    }
  }

  /**
   * Shutdown, on the event loop: stops reading, forces what this connection holds into the queue
   * (past its bound, by what it held) and closes the channel. Returns the close future.
   */
  ChannelFuture flushForShutdown() {
    if (state != ConnectionState.FINISHED) {
      if (ctx.channel().isActive()) {
        ctx.channel().config().setAutoRead(false);
      }
      queueClosed = true; // handOver now forces
      deliverHeld();
      on(Event.SHUTDOWN);
    }
    ctx.channel().close();
    return ctx.channel().closeFuture();
  }

  /** Entering FINISHED: the incomplete record is dropped and counted, nothing is kept. */
  private void finish() {
    if (partialTimer != null) {
      partialTimer.cancel(false);
      partialTimer = null;
    }
    int partial = reads.partialBytes();
    if (!partialCounted && partial > 0) {
      partialCounted = true;
      metrics.partialDropped(partial);
      log.debug("TCP ingest connection from {} closed inside a record: {} bytes dropped", peer,
          partial);
    }
    budget.release(this);
    live.remove(this);
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
