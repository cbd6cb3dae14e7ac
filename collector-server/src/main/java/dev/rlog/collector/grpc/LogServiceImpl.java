package dev.rlog.collector.grpc;

import com.google.protobuf.Empty;
import dev.rlog.collector.auth.AgentIdentity;
import dev.rlog.collector.auth.AuthInterceptor;
import dev.rlog.collector.auth.InvalidTokenException;
import dev.rlog.collector.auth.VerifiedToken;
import dev.rlog.collector.flow.Chunk;
import dev.rlog.collector.flow.IngestQueue;
import dev.rlog.collector.store.JsonLinesEncoder;
import dev.rlog.common.time.Clock;
import dev.rlog.proto.log.ChunkAck;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.BindableService;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code log.LogService/Send}: every {@code Log} of every batch becomes one store record; the call
 * completes OK only once all of them are committed in the store. {@code log.LogService/Ship}
 * (our agent's fast path): every line of every {@code Chunk} becomes one record, and each chunk
 * is acknowledged ({@code ChunkAck}) once committed; see {@link ShipCall}. Both kinds of call
 * share everything below ({@link IngestCall}).
 *
 * <p><b>Flow control and memory.</b> Auto-request is off: a call asks for one message at a time,
 * and only while the ingest queue is not paused and after taking a receive permit of
 * {@code maxMessageBytes} from the shared in-flight budget ({@link SendBounds#inflight}); until
 * then gRPC does not read the message and HTTP/2 flow control pushes back on the sender (at most
 * one flow-control window per stream waits unread). Once a batch has arrived the call keeps only
 * its size of the budget. Before anything is expanded, the batch's store size is computed from
 * its lengths ({@link JsonLinesEncoder#grpcRecordBound} per entry: a 2-byte empty {@code Log}
 * costs ~150 bytes); a batch larger than {@code grpc.max_batch_store_bytes} (or with more entries
 * than the queue holds) fails the call with {@code INVALID_ARGUMENT}, counted. Otherwise the call
 * holds the batch until the queue has room for that size and the expansion budget
 * ({@link SendBounds#expansion}) grants it, then encodes it into one buffer of exactly that size
 * and hands it over. Memory of all Send calls together is therefore bounded by the in-flight
 * budget + the expansion budget + the queue, however many calls are open.
 *
 * <p><b>Duplicates.</b> Lines that carry a file instance and offset at or below the highest one
 * already accepted for that agent are skipped ({@link PositionFilter}); a batch made only of such
 * lines is acknowledged once the earlier chunk that stored them is committed. A file instance id
 * longer than {@link PositionFilter#MAX_FILE_INSTANCE_BYTES} fails the call with
 * {@code INVALID_ARGUMENT}: the filter remembers ids, so their size is part of its bound. So
 * does a label longer than {@link QuotedStrings#MAX_LABEL_BYTES}: each call caches the labels it
 * met, quoted, so their size is part of what an open call holds.
 *
 * <p><b>Decoding.</b> Requests stay bytes ({@link RawMessage}) and are read with
 * {@link LogBatchReader}: no message objects per line; each line is copied once, into its store
 * record. A malformed batch fails the call with {@code INVALID_ARGUMENT}; nothing of it is stored.
 *
 * <p><b>Authorization lives as long as the stream.</b> The interceptor checks the access token
 * when the call starts; a stream may outlive that token. So the token is checked again
 * ({@link TokenCheck}) before each message is taken and by {@link #recheckOpenCalls()}, which
 * the collector runs every {@code auth.stream_recheck_interval}: a stream whose token expired or
 * whose agent was revoked or registered again is closed with {@code UNAUTHENTICATED} within that
 * interval (or at its next message if sooner), and counted. Whatever it carried that is not
 * acknowledged the agent sends again with its new token; lines with positions that were already
 * stored are then skipped by the duplicate filter.
 *
 * <p><b>Threading.</b> gRPC delivers one call's messages serially; queue callbacks (resume,
 * commit) arrive on the store writer thread and are moved to {@code callbackExecutor} at once;
 * {@link #recheckOpenCalls()} runs on the caller's thread. A call's state is guarded by its own
 * monitor. Bounds: one entry per open call in the set of open calls.
 */
public final class LogServiceImpl implements BindableService {
  /**
   * {@code log.LogService/Send} with the request kept as bytes ({@link RawMessage}): same name,
   * same wire format as the generated descriptor, so every client works unchanged.
   */
  public static final MethodDescriptor<RawMessage, Empty> SEND_METHOD =
      LogServiceGrpc.getSendMethod().toBuilder(RawMessage.MARSHALLER,
          ProtoUtils.marshaller(Empty.getDefaultInstance())).build();

  /** {@code log.LogService/Ship} with the request kept as bytes, like {@link #SEND_METHOD}. */
  public static final MethodDescriptor<RawMessage, ChunkAck> SHIP_METHOD =
      LogServiceGrpc.getShipMethod().toBuilder(RawMessage.MARSHALLER,
          ProtoUtils.marshaller(ChunkAck.getDefaultInstance())).build();

  private static final Logger log = LoggerFactory.getLogger(LogServiceImpl.class);

  /** Says whether a token that let a call in is still good: null if so, else why not. */
  @FunctionalInterface
  public interface TokenCheck {
    InvalidTokenException.Reason recheck(VerifiedToken token);
  }

  private final IngestQueue queue;
  private final TokenCheck tokenCheck;
  private final Set<IngestCall> open = ConcurrentHashMap.newKeySet();
  private final PositionFilter positions;
  private final Function<String, String> hostnameOfAgent;
  private final Clock clock;
  private final Executor callbackExecutor;
  private final GrpcIngestCounters counters;
  private final SendBounds bounds;
  /** Calls holding a receive permit while their next message has not arrived. */
  private final Set<IngestCall> receiving = ConcurrentHashMap.newKeySet();

  /** A chunk's buffer is at least this large, whatever the estimate of a tiny batch. */
  static final int MIN_CHUNK_BYTES = 4096;
  private static final byte[] NO_BYTES = new byte[0];

  /**
   * The memory bounds of the Send calls, shared by all of them.
   *
   * @param inflight wire bytes of messages being received or held (a receive permit is
   *     {@code maxMessageBytes}); at least {@code maxMessageBytes}
   * @param expansion store bytes of batches being expanded into chunks; its capacity is also
   *     the largest batch accepted, at its store size
   * @param maxMessageBytes the transport's max inbound message size
   */
  public record SendBounds(ByteBudget inflight, ByteBudget expansion, int maxMessageBytes) {
    public SendBounds {
      if (inflight.capacity() < maxMessageBytes) {
        throw new IllegalArgumentException("in-flight budget " + inflight.capacity()
            + " is below the max message size " + maxMessageBytes);
      }
    }
  }

  public LogServiceImpl(
      IngestQueue queue, PositionFilter positions, Function<String, String> hostnameOfAgent,
      Clock clock, Executor callbackExecutor, GrpcIngestCounters counters, TokenCheck tokenCheck,
      SendBounds bounds) {
    this.bounds = bounds;
    this.queue = queue;
    this.tokenCheck = tokenCheck;
    this.positions = positions;
    this.hostnameOfAgent = hostnameOfAgent;
    this.clock = clock;
    this.callbackExecutor = callbackExecutor;
    this.counters = counters;
  }

  @Override
  public ServerServiceDefinition bindService() {
    ServiceDescriptor service = ServiceDescriptor.newBuilder(LogServiceGrpc.SERVICE_NAME)
        .setSchemaDescriptor(LogServiceGrpc.getServiceDescriptor().getSchemaDescriptor())
        .addMethod(SEND_METHOD)
        .addMethod(SHIP_METHOD)
        .build();
    return ServerServiceDefinition.builder(service)
        .addMethod(SEND_METHOD, ServerCalls.asyncClientStreamingCall(this::send))
        .addMethod(SHIP_METHOD, ServerCalls.asyncBidiStreamingCall(this::ship))
        .build();
  }

  /**
   * Ends the calls that have held a receive permit for {@code timeout} without a message
   * arriving, but only while other calls wait for a permit: an idle stream (a client that opened
   * a Send and sends nothing) must not keep the budget from those that have data. Answered
   * {@code UNAVAILABLE}, so the client sends again on a new call; nothing of it was acknowledged.
   * Called every second by the collector's housekeeping. Returns the number of calls ended.
   */
  public int closeIdleReceivers(Duration timeout) {
    if (bounds.inflight().waiting() == 0) {
      return 0;
    }
    long now = clock.nanoTime();
    int closed = 0;
    for (IngestCall c : receiving) {
      if (c.closeIfIdle(now, timeout.toNanos())) {
        closed++;
      }
    }
    return closed;
  }

  StreamObserver<RawMessage> send(StreamObserver<Empty> responseObserver) {
    ServerCallStreamObserver<Empty> call = (ServerCallStreamObserver<Empty>) responseObserver;
    AgentIdentity id = AuthInterceptor.IDENTITY.get();
    VerifiedToken token = AuthInterceptor.TOKEN.get();
    if (id == null || token == null) {
      return refuseWithoutIdentity(call);
    }
    return begin(call, new SendCall(call, id, token));
  }

  StreamObserver<RawMessage> ship(StreamObserver<ChunkAck> responseObserver) {
    ServerCallStreamObserver<ChunkAck> call =
        (ServerCallStreamObserver<ChunkAck>) responseObserver;
    AgentIdentity id = AuthInterceptor.IDENTITY.get();
    VerifiedToken token = AuthInterceptor.TOKEN.get();
    if (id == null || token == null) {
      return refuseWithoutIdentity(call);
    }
    ShipCall s = new ShipCall(call, id, token);
    call.setOnReadyHandler(s::flushAck);
    return begin(call, s);
  }

  private static StreamObserver<RawMessage> refuseWithoutIdentity(StreamObserver<?> call) {
    // The interceptor guards this service; reaching here without identity is a wiring bug.
    call.onError(Status.UNAUTHENTICATED.withDescription("no identity").asRuntimeException());
    return new NoopObserver();
  }

  private StreamObserver<RawMessage> begin(ServerCallStreamObserver<?> call, IngestCall c) {
    call.disableAutoRequest();
    open.add(c);
    call.setOnCancelHandler(c::cancelled);
    c.askForMessage();
    return c;
  }

  /**
   * Checks the token of every open Send and Ship call again and closes those whose token is no longer
   * good with {@code UNAUTHENTICATED}. Returns how many it closed.
   */
  public int recheckOpenCalls() {
    int closed = 0;
    for (IngestCall s : open) {
      if (!s.recheck()) {
        closed++;
      }
    }
    return closed;
  }

  /** Send and Ship calls open now (tests, metrics). */
  public int openCalls() {
    return open.size();
  }

  /**
   * One ingest call (Send or Ship): state touched by gRPC's serial delivery and by callbacks,
   * hence synchronized. The subclasses say how a message is sized and encoded, and what the
   * client hears once it is stored.
   *
   * <p>At any time the call is in one of these steps, and holds of the in-flight budget:
   * asking (nothing: waiting for the queue to resume or for a receive permit), receiving (one
   * permit of {@code maxMessageBytes}: a message may be arriving), holding a message (its size:
   * waiting for room in the queue or for expansion bytes), awaiting the commit (nothing).
   */
  private abstract class IngestCall implements StreamObserver<RawMessage> {
    private final ServerCallStreamObserver<?> call;
    private final VerifiedToken token;
    final String agent;
    final byte[] agentFields;
    final JsonLinesEncoder encoder = new JsonLinesEncoder(4096);
    final QuotedStrings labels = new QuotedStrings("label", QuotedStrings.MAX_LABEL_BYTES);
    final QuotedStrings fileInstances =
        new QuotedStrings("file_instance", PositionFilter.MAX_FILE_INSTANCE_BYTES);
    /** The queue sequence whose commit covers everything this call stored so far. */
    long lastSeq;
    /** Bytes of the in-flight budget this call holds: a receive permit or its held batch. */
    private long inflightHeld;
    private boolean asking;
    private boolean receiving;
    private long receivingSinceNanos;
    private RawMessage held;
    private long heldStoreBytes;
    boolean halfClosed;
    boolean done;

    IngestCall(ServerCallStreamObserver<?> call, AgentIdentity id, VerifiedToken token) {
      this.call = call;
      this.token = token;
      this.agent = id.agentUuid();
      String host = hostnameOfAgent.apply(agent);
      this.agentFields = JsonLinesEncoder.grpcAgentFields(
          id.projectId(), agent, host == null ? "" : host);
    }

    /** "Send" or "Ship", for messages. */
    abstract String method();

    /** The request message's type, for messages. */
    abstract String messageType();

    /**
     * Parses and checks the message just received, before anything is expanded: returns
     * {entries, store bytes} (an upper bound of its records' size in the store).
     *
     * @throws WireReader.MalformedBatchException if it is malformed
     */
    abstract long[] estimate(RawMessage message);

    /**
     * Encodes the message's new lines (marking them in {@code p}) and hands them to the queue:
     * {@link #offerEncoded} tells how. The reader of the message must not keep it afterwards.
     *
     * @return false if the queue was full: nothing kept, nothing marked
     */
    abstract boolean encodeAndOffer(RawMessage message, PositionFilter.AgentPositions p,
        int reserve);

    /** The held message is in the queue (or was all duplicates): what the client hears next. */
    abstract void stored();

    /** The client half-closed and no message is held: finish once everything is committed. */
    abstract void halfClosedAndStored();

    /** Everything is committed after the client half-closed: complete the call OK. */
    abstract void completeOk();

    /**
     * Asks for the next message once the queue is not paused and a receive permit (the largest
     * message) is taken from the in-flight budget: only then may gRPC read a message body, so
     * the bytes being received by all calls together stay within the budget.
     */
    synchronized void askForMessage() {
      if (done || halfClosed || receiving || asking || held != null) {
        return;
      }
      if (queue.isPaused()) {
        asking = true;
        queue.whenResumed(() -> callbackExecutor.execute(this::resumedAsking));
        return;
      }
      long permit = bounds.maxMessageBytes();
      if (!bounds.inflight().acquireOrWait(permit, this::receivePermitGranted)) {
        asking = true;
        counters.receiveWaits.increment();
        return;
      }
      startReceiving(permit);
    }

    private synchronized void resumedAsking() {
      asking = false;
      askForMessage();
    }

    private synchronized void receivePermitGranted() {
      asking = false;
      long permit = bounds.maxMessageBytes();
      if (done || halfClosed) {
        bounds.inflight().release(permit);
        return;
      }
      startReceiving(permit);
    }

    private void startReceiving(long permit) {
      inflightHeld += permit;
      receiving = true;
      receivingSinceNanos = clock.nanoTime();
      LogServiceImpl.this.receiving.add(this);
      call.request(1);
    }

    private void stopReceiving() {
      receiving = false;
      LogServiceImpl.this.receiving.remove(this);
    }

    synchronized boolean closeIfIdle(long nowNanos, long timeoutNanos) {
      if (done || !receiving || nowNanos - receivingSinceNanos < timeoutNanos) {
        return false;
      }
      counters.idleReceiversClosed.increment();
      log.info("ending {} from agent {}: no message for {} s while holding a receive permit"
          + " others wait for (grpc.receive_idle_timeout)", method(), agent,
          TimeUnit.NANOSECONDS.toSeconds(timeoutNanos));
      fail(Status.UNAVAILABLE.withDescription("no message for "
          + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s while other streams wait to send;"
          + " send again"));
      return true;
    }

    @Override
    public synchronized void onNext(RawMessage message) {
      if (done || !recheck()) {
        return;
      }
      stopReceiving();
      counters.batches.increment();
      int size = message.bytes().length;
      if (size > inflightHeld) { // the transport enforces maxMessageBytes; in-process does not
        counters.batchesTooLarge.increment();
        fail(Status.RESOURCE_EXHAUSTED.withDescription(messageType() + " of " + size
            + " bytes exceeds grpc.max_message_bytes (" + bounds.maxMessageBytes() + ")"));
        return;
      }
      bounds.inflight().release(inflightHeld - size); // keep what the batch really holds
      inflightHeld = size;
      long storeBytes;
      int entries;
      try {
        long[] est = estimate(message);
        entries = (int) est[0];
        storeBytes = est[1];
      } catch (WireReader.MalformedBatchException e) {
        fail(Status.INVALID_ARGUMENT.withDescription(
            "malformed " + messageType() + ": " + e.getMessage()));
        return;
      }
      if (storeBytes > bounds.expansion().capacity() || entries > queue.capacityRecords()) {
        counters.batchesTooLarge.increment();
        fail(Status.INVALID_ARGUMENT.withDescription(messageType() + " of " + entries
            + " entries (" + size + " bytes) takes up to " + storeBytes + " bytes as store records, more than"
            + " one batch may (grpc.max_batch_store_bytes " + bounds.expansion().capacity()
            + ", queue.capacity_records " + queue.capacityRecords()
            + "): send smaller batches"));
        return;
      }
      held = message;
      counters.pausedStreams.incrementAndGet();
      heldStoreBytes = Math.max(storeBytes, MIN_CHUNK_BYTES);
      store();
    }

    /**
     * Stores the held batch when the queue has room for its store bytes and the expansion budget
     * grants them; otherwise waits (still holding only the batch's wire bytes).
     */
    private synchronized void store() {
      if (done || held == null) {
        return;
      }
      if (!waitForQueueRoom()) {
        return;
      }
      long need = heldStoreBytes;
      if (!bounds.expansion().acquireOrWait(need, () -> expansionGranted(need))) {
        return;
      }
      expand(need);
    }

    /** True if the held batch fits the queue now; else arranges to call {@link #store} later. */
    private boolean waitForQueueRoom() {
      long queued = queue.queuedBytes();
      if (queued == 0 || queued + heldStoreBytes <= queue.capacityBytes()) {
        return true;
      }
      if (queue.isPaused()) {
        queue.whenResumed(() -> callbackExecutor.execute(this::store));
      } else { // below the watermark but no room for this batch: wait until what is queued is
        queue.whenCommitted(queue.lastSeq(), err -> callbackExecutor.execute(this::store));
      }
      return false;
    }

    private synchronized void expansionGranted(long need) {
      if (done || held == null) {
        bounds.expansion().release(need);
        return;
      }
      expand(need);
    }

    private void expand(long need) {
      boolean stored;
      try {
        stored = offer(held, (int) need);
      } finally {
        bounds.expansion().release(need); // accepted: the queue counts it now; else dropped
      }
      if (done) {
        return;
      }
      if (!stored) { // another producer took the room between the check and the offer
        if (waitForQueueRoom()) {
          queue.whenCommitted(queue.lastSeq(), err -> callbackExecutor.execute(this::store));
        }
        return;
      }
      clearHeld();
      releaseInflight();
      stored();
    }

    /** Encodes and enqueues under the agent's lock; false if the queue is full (nothing kept). */
    private boolean offer(RawMessage message, int reserve) {
      try {
        return positions.withAgent(agent, p -> {
          try {
            return encodeAndOffer(message, p, reserve);
          } catch (RuntimeException e) {
            p.rollback(); // nothing of this batch was handed over
            throw e;
          }
        });
      } catch (WireReader.MalformedBatchException e) {
        encoder.finish(List.of()); // drop the half-encoded batch
        fail(Status.INVALID_ARGUMENT.withDescription(
            "malformed " + messageType() + ": " + e.getMessage()));
        return true;
      } catch (IllegalStateException e) { // queue closed (shutting down) or store failed
        encoder.finish(List.of());
        fail(Status.UNAVAILABLE.withDescription("collector cannot store now: " + e.getMessage()));
        return true;
      }
    }

    /**
     * Hands what the encoder holds to the queue, with the positions marked in {@code p}:
     * true if it was taken (or there was nothing new: then {@link #lastSeq} moves to the
     * queue's last chunk, whose commit covers the earlier copy of these lines), false if the
     * queue is full (nothing kept, marks dropped). Sets {@link #lastSeq}.
     */
    final boolean offerEncoded(PositionFilter.AgentPositions p, long lineBytes) {
      if (encoder.isEmpty()) {
        encoder.finish(List.of()); // drop the reserved buffer
        p.rollback();
        // Every line was stored before; ack only once whatever stored them is committed.
        lastSeq = Math.max(lastSeq, queue.lastSeq());
        return true;
      }
      int records = encoder.records();
      Chunk chunk = encoder.finish(p.tentativePositions(agent));
      long seq = queue.tryOffer(chunk);
      if (seq == IngestQueue.FULL) {
        p.rollback();
        return false;
      }
      p.commit();
      lastSeq = seq;
      counters.records.add(records);
      counters.bytes.add(lineBytes);
      return true;
    }

    /**
     * False (and the call closed) once the token that let the call in is no longer good. A call
     * the client has half-closed is left to finish: every message it carried was checked when
     * it arrived, and failing it now would only make the agent send lines again.
     */
    synchronized boolean recheck() {
      if (done || halfClosed) {
        return true;
      }
      InvalidTokenException.Reason why = tokenCheck.recheck(token);
      if (why == null) {
        return true;
      }
      log.info("closing {} stream of agent {}: {}", method(), agent, why.description());
      counters.streamsClosedUnauthenticated.increment();
      fail(Status.UNAUTHENTICATED.withDescription(why.description()));
      return false;
    }

    private void clearHeld() {
      if (held != null) {
        held = null; // never acknowledged: the agent sends it again
        counters.pausedStreams.decrementAndGet();
      }
    }

    private void releaseInflight() {
      long n = inflightHeld;
      inflightHeld = 0;
      bounds.inflight().release(n);
    }

    @Override
    public synchronized void onError(Throwable t) {
      cancelled();
    }

    synchronized void cancelled() {
      done = true;
      open.remove(this);
      stopReceiving();
      clearHeld();
      releaseInflight();
    }

    @Override
    public synchronized void onCompleted() {
      if (done) {
        return;
      }
      halfClosed = true;
      if (receiving) { // no message is coming: give the receive permit back
        stopReceiving();
        releaseInflight();
      }
      if (held == null) {
        halfClosedAndStored();
      }
    }

    /** Completes the call once everything it stored is committed. */
    final void finishWhenCommitted() {
      queue.whenCommitted(lastSeq, err -> callbackExecutor.execute(() -> finish(err)));
    }

    private synchronized void finish(Throwable err) {
      if (done) {
        return;
      }
      if (err != null) {
        log.warn("store failed; {} from agent {} not acknowledged: {}", method(), agent,
            err.toString());
        fail(Status.UNAVAILABLE.withDescription("store failed"));
        return;
      }
      done = true;
      releaseInflight();
      open.remove(this);
      completeOk();
    }

    final void fail(Status status) {
      if (done) {
        return;
      }
      done = true;
      open.remove(this);
      stopReceiving();
      clearHeld();
      releaseInflight();
      counters.callsFailed.increment();
      call.onError(status.asRuntimeException());
    }
  }

  /** {@code Send}: the call completes OK (one {@code Empty}) once every batch is committed. */
  private final class SendCall extends IngestCall {
    private final ServerCallStreamObserver<Empty> call;
    private final LogBatchReader reader = new LogBatchReader();

    SendCall(ServerCallStreamObserver<Empty> call, AgentIdentity id, VerifiedToken token) {
      super(call, id, token);
      this.call = call;
    }

    @Override
    String method() {
      return "Send";
    }

    @Override
    String messageType() {
      return "LogBatch";
    }

    /**
     * Entries and store bytes of a batch, from its lengths alone: the sum of
     * {@link JsonLinesEncoder#grpcRecordBound} over its entries, before anything is expanded.
     */
    @Override
    long[] estimate(RawMessage batch) {
      byte[] buf = batch.bytes();
      reader.reset(buf, 0, buf.length);
      long entries = 0;
      long bytes = 0;
      try {
        while (reader.next()) {
          entries++;
          int fid = reader.hasFileInstance() ? fileInstances.get(buf,
              reader.fileInstanceOffset(), reader.fileInstanceLength()).quoted.length : 0;
          bytes += JsonLinesEncoder.grpcRecordBound(agentFields.length,
              labels.get(buf, reader.labelOffset(), reader.labelLength()).quoted.length, fid,
              JsonLinesEncoder.grpcLineBound(buf, reader.lineOffset(), reader.lineLength()));
        }
      } finally {
        reader.reset(NO_BYTES, 0, 0); // the reader must not keep the batch alive
      }
      return new long[] {entries, bytes};
    }

    @Override
    boolean encodeAndOffer(RawMessage batch, PositionFilter.AgentPositions p,
        int reserve) {
      encoder.receiveTime(clock.currentTimeMillis());
      encoder.reserve(reserve); // the estimate bounds every record: one allocation, no growth
      long lineBytes = 0;
      byte[] buf = batch.bytes();
      reader.reset(buf, 0, buf.length);
      while (reader.next()) {
        byte[] qfid = null;
        if (reader.hasFileInstance()) {
          QuotedStrings.Entry fid = fileInstances.get(buf, reader.fileInstanceOffset(),
              reader.fileInstanceLength());
          if (!p.admit(fid.text, reader.offset())) {
            counters.duplicatesSkipped.increment();
            continue;
          }
          qfid = fid.quoted;
        }
        lineBytes += reader.lineLength();
        encoder.grpcRecord(agentFields,
            labels.get(buf, reader.labelOffset(), reader.labelLength()).quoted,
            reader.hasTimestamp(), reader.seconds(), reader.nanos(), qfid, reader.offset(),
            buf, reader.lineOffset(), reader.lineLength());
      }
      try {
        return offerEncoded(p, lineBytes);
      } finally {
        reader.reset(NO_BYTES, 0, 0); // the reader must not keep the batch alive
      }
    }

    @Override
    void stored() {
      if (halfClosed) {
        finishWhenCommitted();
      } else {
        askForMessage();
      }
    }

    @Override
    void halfClosedAndStored() {
      finishWhenCommitted();
    }

    @Override
    void completeOk() {
      call.onNext(Empty.getDefaultInstance());
      call.onCompleted();
    }
  }

  /**
   * {@code Ship}: chunks in order with sequence numbers 1, 2, …; the next chunk is asked for as
   * soon as one is in the queue (the client keeps a window in flight), and {@code ChunkAck{seq}}
   * goes back once the queue committed it. Acks are cumulative, so while the client does not read
   * them only the highest is kept (the response stream never buffers more than one ack beyond
   * its window). The duplicate filter is consulted once per chunk: one look-up of the file
   * instance's highest offset, the lines at or below it skipped, one mark for the last line.
   */
  private final class ShipCall extends IngestCall {
    private final ServerCallStreamObserver<ChunkAck> call;
    private final ChunkReader reader = new ChunkReader();
    /** The sequence number the next chunk must carry. */
    private long expectedSeq = 1;
    /** Sequence number of the chunk held or being stored. */
    private long heldSeq;
    /** Every line of the held chunk is plain ({@link JsonLinesEncoder#isPlain}): no escapes. */
    private boolean heldPlain;
    /** Highest chunk sequence number known committed, and the highest acknowledged to the client. */
    private long committedSeq;
    private long ackedSeq;

    ShipCall(ServerCallStreamObserver<ChunkAck> call, AgentIdentity id, VerifiedToken token) {
      super(call, id, token);
      this.call = call;
    }

    @Override
    String method() {
      return "Ship";
    }

    @Override
    String messageType() {
      return "Chunk";
    }

    @Override
    long[] estimate(RawMessage message) {
      byte[] buf = message.bytes();
      try {
        reader.read(buf, 0, buf.length);
        if (reader.seq() != expectedSeq) {
          throw new WireReader.MalformedBatchException(
              "chunk seq " + reader.seq() + ", expected " + expectedSeq);
        }
        int label = labels.get(buf, reader.labelOffset(), reader.labelLength()).quoted.length;
        int fid = fileInstances.get(buf, reader.fileInstanceOffset(),
            reader.fileInstanceLength()).quoted.length;
        long fixed = (long) reader.lines()
            * JsonLinesEncoder.grpcChunkRecordFixed(agentFields.length, label, fid);
        // Most chunks are plain text: each line checked once here, copied as it is later.
        long plainBytes = 0;
        heldPlain = true;
        while (heldPlain && reader.nextLine()) {
          heldPlain = JsonLinesEncoder.isPlain(buf, reader.lineOffset(), reader.lineLength());
          plainBytes += reader.lineLength();
        }
        long bytes = fixed + (heldPlain ? plainBytes : JsonLinesEncoder.linesBound(buf,
            reader.dataOffset(), reader.dataLength(), reader.lines()));
        heldSeq = expectedSeq++;
        return new long[] {reader.lines(), bytes};
      } finally {
        reader.clear(); // the reader must not keep the chunk alive
      }
    }

    @Override
    boolean encodeAndOffer(RawMessage message, PositionFilter.AgentPositions p, int reserve) {
      byte[] buf = message.bytes();
      try {
        reader.read(buf, 0, buf.length);
        QuotedStrings.Entry fid = fileInstances.get(buf, reader.fileInstanceOffset(),
            reader.fileInstanceLength());
        byte[] label = labels.get(buf, reader.labelOffset(), reader.labelLength()).quoted;
        long now = clock.currentTimeMillis();
        encoder.receiveTime(now);
        long seconds = reader.hasTimestamp() ? reader.seconds() : Math.floorDiv(now, 1000L);
        int nanos = reader.hasTimestamp() ? reader.nanos()
            : (int) Math.floorMod(now, 1000L) * 1_000_000;
        long highest = p.highest(fid.text); // once per chunk: its lines are in file order
        long last = -1;
        long lineBytes = 0;
        int skipped = 0;
        while (reader.nextLine()) {
          long offset = reader.lineFileOffset();
          if (offset <= highest) {
            skipped++;
            continue;
          }
          if (last < 0) {
            encoder.reserve(reserve); // the estimate bounds every record: one allocation
          }
          if (heldPlain) {
            encoder.grpcChunkRecordPlain(agentFields, label, seconds, nanos, fid.quoted, offset,
                buf, reader.lineOffset(), reader.lineLength());
          } else {
            encoder.grpcChunkRecord(agentFields, label, seconds, nanos, fid.quoted, offset, buf,
                reader.lineOffset(), reader.lineLength());
          }
          lineBytes += reader.lineLength();
          last = offset;
        }
        if (skipped > 0) {
          counters.duplicatesSkipped.add(skipped);
        }
        if (last >= 0) {
          p.admit(fid.text, last);
        }
        return offerEncoded(p, lineBytes);
      } finally {
        reader.clear();
      }
    }

    @Override
    void stored() {
      long seq = heldSeq;
      queue.whenCommitted(lastSeq, err -> callbackExecutor.execute(() -> committed(seq, err)));
      if (halfClosed) {
        finishWhenCommitted();
      } else {
        askForMessage();
      }
    }

    private synchronized void committed(long seq, Throwable err) {
      if (done) {
        return;
      }
      if (err != null) {
        log.warn("store failed; Ship chunks of agent {} not acknowledged: {}", agent,
            err.toString());
        fail(Status.UNAVAILABLE.withDescription("store failed"));
        return;
      }
      committedSeq = Math.max(committedSeq, seq);
      flushAck();
    }

    /** Sends the highest committed seq not yet acknowledged, if the response stream has room. */
    synchronized void flushAck() {
      if (!done && committedSeq > ackedSeq && call.isReady()) {
        ackedSeq = committedSeq;
        call.onNext(ChunkAck.newBuilder().setSeq(ackedSeq).build());
      }
    }

    @Override
    void halfClosedAndStored() {
      finishWhenCommitted();
    }

    @Override
    void completeOk() {
      long last = expectedSeq - 1; // every chunk received is committed now
      if (last > ackedSeq) {
        ackedSeq = last;
        call.onNext(ChunkAck.newBuilder().setSeq(last).build());
      }
      call.onCompleted();
    }
  }

  private static final class NoopObserver implements StreamObserver<RawMessage> {
    @Override
    public void onNext(RawMessage value) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }

}
