package dev.rlog.agent.ship;

import dev.rlog.agent.auth.AccessTokens;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSink;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ships what the tailer read over {@code LogService.Ship}: the tailer's {@link LineBatch}es are
 * cut into {@link WireChunk}s and sent on one ordered stream with a bounded window in flight; each
 * {@code ChunkAck{seq}} commits the positions of the chunks up to {@code seq}
 * ({@link Shipper.PositionCommitter}).
 *
 * <p><b>Order and the window.</b> One stream at a time, chunks in the order the tailer offered
 * them, so the lines of a file instance reach the collector in order (its duplicate filter needs
 * that). Up to {@code windowChunks} chunks and {@code windowBytes} bytes are unacknowledged on the
 * stream at once, so reading, sending and the collector's storing overlap instead of taking
 * turns. Acks are cumulative.
 *
 * <p><b>Failures.</b> Nothing is dropped. When a stream ends (collector down, token expired,
 * overloaded, no ack for {@code ackTimeout}), its unacknowledged chunks go back to the front of
 * the queue, in order, and are sent again on the next stream, numbered from 1 again; lines the
 * collector had already stored are skipped by its duplicate filter. The next stream opens at once
 * after {@code UNAUTHENTICATED} with a renewed token, otherwise after the {@link RetryPolicy}'s
 * backoff (reset by any ack). A stream that ends with nothing in flight (closed as idle by the
 * collector) is not a failure: the next opens when there is something to send.
 *
 * <p><b>Memory.</b> Batches are held from {@link #offer} until their last chunk is acknowledged,
 * at most {@code maxBufferedBytes} of them (counted at their arrays' size; one batch is always
 * taken when none is held, so no batch is too large to pass); beyond that {@code offer} refuses
 * and the tailer pauses until {@code spaceAvailable} runs. An acknowledged batch is
 * {@link LineBatch#release released}: its array is reused for a later read.
 *
 * <p><b>Shutdown.</b> {@link #shutdown()} refuses new batches and keeps sending for up to {@code
 * drainTimeout}; it ends once everything taken was acknowledged, or at that deadline, cancelling
 * the stream. What was not acknowledged is read again after the next start.
 *
 * <p><b>Threading.</b> {@link #offer} runs on the tail thread; {@link #runOnce} on the shipper
 * thread {@value #THREAD_NAME} (or a test driving it); transport callbacks on gRPC's threads only
 * queue an event and wake the shipper thread. The queue of unsent chunks and the byte count are
 * guarded by {@code this}; everything else belongs to the shipper thread.
 */
public final class ChunkShipper implements LineSink, Service {
  private static final Logger log = LoggerFactory.getLogger(ChunkShipper.class);
  public static final String THREAD_NAME = "rlog-ship";
  public static final long NO_DEADLINE = ShipLoop.NO_DEADLINE;

  /** Tuning, validated on construction; the defaults are these constants and nowhere else. */
  public record Options(int maxLinesPerChunk, int maxBytesPerChunk, int windowChunks,
      long windowBytes, long maxBufferedBytes, Duration ackTimeout, Duration backoffMin,
      Duration backoffMax, Duration drainTimeout) {
    public static final int DEFAULT_WINDOW_CHUNKS = 16;
    public static final long DEFAULT_WINDOW_BYTES = 4L << 20;
    /**
     * Batches held until acknowledged. 4 MiB (the window) rather than 8: measured 2026-11-30 end
     * to end (AgentBenchmark, 3 runs) the line rate was the same within noise (237,939 against
     * 243,170 lines/s) and peak RSS 92 instead of 99 MiB. Batches held this long outlive young
     * collections either way, so more of them only means a fuller old generation.
     */
    public static final long DEFAULT_MAX_BUFFERED_BYTES = 4L << 20;
    public static final Duration DEFAULT_ACK_TIMEOUT = Duration.ofSeconds(60);

    public Options {
      if (maxLinesPerChunk < 1 || maxBytesPerChunk < 1 || windowChunks < 1 || windowBytes < 1) {
        throw new IllegalArgumentException("chunk and window limits must be at least 1");
      }
      if (maxBufferedBytes < 1) {
        throw new IllegalArgumentException("maxBufferedBytes must be at least 1");
      }
      if (ackTimeout == null || ackTimeout.isNegative() || ackTimeout.isZero()) {
        throw new IllegalArgumentException("ackTimeout must be positive, got " + ackTimeout);
      }
      Shipper.Options.checkBackoff(backoffMin, backoffMax);
      if (drainTimeout == null || drainTimeout.isNegative()) {
        throw new IllegalArgumentException("drainTimeout must not be negative, got " + drainTimeout);
      }
    }

    /** The defaults, with chunks of at most {@code maxLines} lines and {@code maxBytes} bytes. */
    public static Options of(int maxLines, int maxBytes) {
      return new Options(maxLines, maxBytes, DEFAULT_WINDOW_CHUNKS, DEFAULT_WINDOW_BYTES,
          Math.max(DEFAULT_MAX_BUFFERED_BYTES, 2L * maxBytes), DEFAULT_ACK_TIMEOUT,
          Shipper.Options.DEFAULT_BACKOFF_MIN, Shipper.Options.DEFAULT_BACKOFF_MAX,
          Shipper.Options.DEFAULT_DRAIN_TIMEOUT);
    }

    public RetryPolicy retryPolicy() {
      return new RetryPolicy(backoffMin, backoffMax, RetryPolicy.EQUAL_JITTER);
    }
  }

  /** A chunk on the current stream with its sequence number and encoded size. */
  private record InFlight(WireChunk chunk, long seq, int bytes) {}

  /** What a stream reported, tagged with the stream it came from. */
  private record Event(int stream, long ack, Status closed) {}

  private final ChunkTransport transport;
  private final AccessTokens tokens;
  private final Shipper.PositionCommitter committer;
  private final Runnable spaceAvailable;
  private final Clock clock;
  private final Options options;
  private final RetryPolicy policy;
  private final ShipperCounters counters;
  private final ShipLoop loop;
  private final ConcurrentLinkedQueue<Event> events = new ConcurrentLinkedQueue<>();

  // Guarded by this.
  private final ArrayDeque<WireChunk> unsent = new ArrayDeque<>();
  private long bufferedBytes;
  private boolean refusedSinceRelease;
  private boolean stopping;

  private final AtomicBoolean shutdownCalled = new AtomicBoolean();
  private volatile long drainDeadlineNanos;

  // Shipper thread only.
  private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
  private long inFlightBytes;
  private ChunkTransport.Stream stream;
  private int streamId;
  private String streamToken;
  private long nextSeq;
  private long lastProgressNanos;
  private long retryAtNanos;
  private int failuresInRow;
  private int renewalsInRow;
  private boolean renewBeforeOpen;
  private boolean ended;

  /**
   * @param spaceAvailable run (on the shipper thread) when a refused {@link #offer} may now
   *     succeed: wakes the tailer
   */
  public ChunkShipper(ChunkTransport transport, AccessTokens tokens,
      Shipper.PositionCommitter committer, Runnable spaceAvailable, Clock clock, Options options,
      RetryPolicy policy, ShipperCounters counters) {
    this.transport = Objects.requireNonNull(transport, "transport");
    this.tokens = Objects.requireNonNull(tokens, "tokens");
    this.committer = Objects.requireNonNull(committer, "committer");
    this.spaceAvailable = Objects.requireNonNull(spaceAvailable, "spaceAvailable");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.options = Objects.requireNonNull(options, "options");
    this.policy = Objects.requireNonNull(policy, "policy");
    this.counters = Objects.requireNonNull(counters, "counters");
    this.loop = new ShipLoop(THREAD_NAME, clock, new ShipLoop.Step() {
      @Override
      public long runOnce(long nowNanos) {
        return ChunkShipper.this.runOnce(nowNanos);
      }

      @Override
      public boolean ended() {
        return ended;
      }

      @Override
      public void interrupted() {
        if (stream != null) {
          stream.cancel("agent thread interrupted");
        }
      }
    });
  }

  /** Tail thread: takes the whole batch, or refuses it (nothing taken) while the buffer is full. */
  @Override
  public boolean offer(LineBatch batch) {
    long heap = batch.heapBytes();
    synchronized (this) {
      if (stopping) {
        return false;
      }
      if (bufferedBytes > 0 && bufferedBytes + heap > options.maxBufferedBytes()) {
        refusedSinceRelease = true;
        return false;
      }
      bufferedBytes += heap;
      WireChunk.split(batch, options.maxLinesPerChunk(), options.maxBytesPerChunk(),
          unsent::addLast);
    }
    counters.linesRead(batch.label(), batch.size());
    loop.wakeup();
    return true;
  }

  @Override
  public void start() {
    loop.start();
  }

  /**
   * Stops taking batches and drains for at most {@code drainTimeout}. Idempotent; the future
   * completes when the thread has ended.
   */
  @Override
  public CompletableFuture<Void> shutdown() {
    initiateShutdown();
    loop.start(); // never started: the thread still drains what it holds, then ends
    return loop.terminated();
  }

  /** Completes when the shipper thread ended, without asking it to; for supervision. */
  public CompletableFuture<Void> terminated() {
    return loop.terminated();
  }

  /** First half of {@link #shutdown()}, without starting the thread (tests drive runOnce). */
  void initiateShutdown() {
    if (shutdownCalled.compareAndSet(false, true)) {
      drainDeadlineNanos = clock.nanoTime() + options.drainTimeout().toNanos();
      synchronized (this) {
        stopping = true;
      }
      loop.wakeup();
    }
  }

  /** Bytes of batches taken and not yet fully acknowledged. */
  public synchronized long bufferedBytes() {
    return bufferedBytes;
  }

  /** Chunks sent on the current stream and not yet acknowledged (shipper thread or tests). */
  int inFlightChunks() {
    return inFlight.size();
  }

  boolean ended() {
    return ended;
  }

  /**
   * One step at {@code nowNanos}: applies what the stream reported, opens a stream when there is
   * something to send, fills the window. Returns when to run again without a wake-up.
   */
  long runOnce(long nowNanos) {
    if (ended) {
      return NO_DEADLINE;
    }
    for (Event e; (e = events.poll()) != null; ) {
      if (e.stream() != streamId || stream == null) {
        continue; // from a stream already given up
      }
      if (e.closed() != null) {
        onStreamClosed(e.closed(), nowNanos);
      } else if (e.ack() > 0) {
        onAck(e.ack(), nowNanos);
      }
    }
    boolean stop = isStopping();
    if (stop && nowNanos - drainDeadlineNanos >= 0) {
      endAtDrainDeadline();
      return NO_DEADLINE;
    }
    boolean nothingLeft = inFlight.isEmpty() && !hasUnsent();
    if (stop && nothingLeft) {
      if (stream != null) {
        stream.halfClose();
        stream = null;
      }
      log.info("shipper drained: everything read was acknowledged");
      ended = true;
      return NO_DEADLINE;
    }
    if (stream == null) {
      if (nothingLeft) {
        return capByDrain(NO_DEADLINE);
      }
      if (nowNanos - retryAtNanos < 0) {
        return capByDrain(retryAtNanos);
      }
      if (!openStream(nowNanos)) {
        return capByDrain(retryAtNanos);
      }
    }
    fillWindow();
    if (inFlight.isEmpty()) {
      return capByDrain(NO_DEADLINE);
    }
    long ackDeadline = lastProgressNanos + options.ackTimeout().toNanos();
    if (nowNanos - ackDeadline >= 0) {
      log.warn("no acknowledgement for {} s with {} chunks in flight; opening a new stream",
          options.ackTimeout().toSeconds(), inFlight.size());
      stream.cancel("no acknowledgement within the ack timeout");
      onStreamClosed(Status.DEADLINE_EXCEEDED.withDescription("no acknowledgement"), nowNanos);
      return nowNanos;
    }
    return capByDrain(ackDeadline);
  }

  private boolean openStream(long nowNanos) {
    String token;
    try {
      if (renewBeforeOpen) {
        renewBeforeOpen = false;
        token = tokens.onUnauthenticated(streamToken);
        counters.tokenRenewal();
        renewalsInRow++;
      } else {
        token = tokens.accessToken();
      }
    } catch (StatusRuntimeException e) {
      failed(e.getStatus(), nowNanos, "getting an access token");
      return false;
    }
    streamToken = token;
    int id = ++streamId;
    nextSeq = 1;
    lastProgressNanos = nowNanos;
    counters.callStarted(0);
    try {
      stream = transport.open(token, new ChunkTransport.Listener() {
        @Override
        public void onReady() {
          loop.wakeup();
        }

        @Override
        public void onAck(long seq) {
          events.add(new Event(id, seq, null));
          loop.wakeup();
        }

        @Override
        public void onClosed(Status status) {
          events.add(new Event(id, 0, status));
          loop.wakeup();
        }
      });
    } catch (RuntimeException e) {
      // The contract says a transport reports failures to the listener; treat a throw the same.
      stream = null;
      failed(Status.fromThrowable(e), nowNanos, "opening a stream");
      return false;
    }
    return true;
  }

  private void fillWindow() {
    while (stream != null && inFlight.size() < options.windowChunks()
        && (inFlight.isEmpty() || inFlightBytes < options.windowBytes()) && stream.isReady()) {
      WireChunk c;
      synchronized (this) {
        c = unsent.pollFirst();
      }
      if (c == null) {
        return;
      }
      long seq = nextSeq++;
      WireChunk.Encoded message = c.encode(seq);
      inFlight.addLast(new InFlight(c, seq, message.size()));
      inFlightBytes += message.size();
      counters.chunksInFlight(1);
      stream.send(message);
    }
  }

  private void onAck(long seq, long nowNanos) {
    Map<String, Long> ends = new LinkedHashMap<>();
    Map<String, Long> byLabel = new LinkedHashMap<>();
    long released = 0;
    int chunks = 0;
    while (!inFlight.isEmpty() && inFlight.peekFirst().seq() <= seq) {
      InFlight f = inFlight.pollFirst();
      chunks++;
      inFlightBytes -= f.bytes();
      WireChunk c = f.chunk();
      ends.merge(c.batch().fileInstance(), c.endOffset(), Math::max);
      byLabel.merge(c.batch().label(), (long) c.lines(), Long::sum);
      if (c.last()) {
        // Every chunk of the batch is acknowledged now (acks are cumulative, chunks go in
        // order), so nothing reads it again: not a re-send (only unacknowledged chunks are), and
        // not gRPC, which copied each chunk out as it was sent; the only copy it keeps, for a
        // transparent retry, is dropped when the stream commits on the collector's response
        // headers, which come before any ack. Its array goes back for the next read.
        released += c.batch().heapBytes();
        c.batch().release();
      }
    }
    if (chunks == 0) {
      return;
    }
    counters.chunksInFlight(-chunks);
    lastProgressNanos = nowNanos;
    failuresInRow = 0;
    renewalsInRow = 0;
    counters.linesAcked(byLabel);
    release(released);
    committer.commit(ends);
  }

  private void release(long bytes) {
    if (bytes == 0) {
      return;
    }
    boolean wake;
    synchronized (this) {
      bufferedBytes -= bytes;
      wake = refusedSinceRelease;
      refusedSinceRelease = false;
    }
    if (wake) {
      spaceAvailable.run();
    }
  }

  /** The stream ended: its unacknowledged chunks go back to the front of the queue, in order. */
  private void onStreamClosed(Status status, long nowNanos) {
    stream = null;
    boolean hadWork = !inFlight.isEmpty();
    requeueInFlight();
    if (status.isOk()) {
      return; // completed by the collector; a new stream opens when there is something to send
    }
    if (!hadWork && !hasUnsent()) {
      // An idle stream the collector ended (idle receiver, token expiry, restart): not a
      // failure; the next stream opens with a renewed token if that was the reason.
      renewBeforeOpen = status.getCode() == Status.Code.UNAUTHENTICATED;
      log.debug("idle Ship stream ended: {}", describe(status));
      return;
    }
    failed(status, nowNanos, "the Ship stream");
  }

  private void requeueInFlight() {
    if (inFlight.isEmpty()) {
      return;
    }
    counters.chunksInFlight(-inFlight.size());
    synchronized (this) {
      for (Iterator<InFlight> it = inFlight.descendingIterator(); it.hasNext(); ) {
        unsent.addFirst(it.next().chunk());
      }
    }
    inFlight.clear();
    inFlightBytes = 0;
  }

  private void failed(Status status, long nowNanos, String what) {
    failuresInRow++;
    counters.retry();
    RetryPolicy.Decision decision = policy.onResult(status, failuresInRow, renewalsInRow);
    long delay = decision.delayNanos();
    int queued;
    synchronized (this) {
      queued = unsent.size();
    }
    if (decision instanceof RetryPolicy.RenewAndRetry) {
      renewBeforeOpen = true;
      log.info("collector refused the access token; renewing it and sending {} chunks again"
          + " in {} ms", queued, millis(delay));
    } else if (decision instanceof RetryPolicy.Poison) {
      counters.poisoned();
      // Sending it again cannot help and dropping it would lose lines: keep trying, loudly.
      log.error("collector refused a chunk as malformed ({}); {} chunks wait, retrying in {} ms",
          describe(status), queued, millis(delay));
    } else {
      log.warn("{} failed ({}); {} chunks wait, retrying in {} ms", what, describe(status),
          queued, millis(delay));
    }
    retryAtNanos = nowNanos + delay;
  }

  private void endAtDrainDeadline() {
    if (stream != null) {
      stream.cancel("agent stopping: drain time is up");
      stream = null;
    }
    int unacked = inFlight.size();
    requeueInFlight();
    int waiting;
    synchronized (this) {
      waiting = unsent.size();
    }
    if (waiting > 0) {
      log.warn("drain time ({}) is up with {} unacknowledged chunks ({} of them sent): they are"
          + " read again after the next start", options.drainTimeout(), waiting, unacked);
    }
    ended = true;
  }

  private synchronized boolean hasUnsent() {
    return !unsent.isEmpty();
  }

  private synchronized boolean isStopping() {
    return stopping;
  }

  private long capByDrain(long deadline) {
    if (!isStopping()) {
      return deadline;
    }
    long drain = drainDeadlineNanos;
    return deadline == NO_DEADLINE || drain - deadline < 0 ? drain : deadline;
  }

  private static String describe(Status status) {
    return status.getDescription() == null ? status.getCode().toString()
        : status.getCode() + ": " + status.getDescription();
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }
}
