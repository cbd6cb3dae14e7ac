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
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code log.LogService/Send}: every {@code Log} of every batch becomes one store record; the call
 * completes OK only once all of them are committed in the store.
 *
 * <p><b>Flow control.</b> Auto-request is off: the call asks for one message at a time, and only
 * while the ingest queue is not paused; otherwise it asks again from the queue's resume callback,
 * so HTTP/2 flow control pushes back on the sender. A batch refused by a full queue is held (one
 * per call, bounded by the max message size) and offered again on resume.
 *
 * <p><b>Duplicates.</b> Lines that carry a file instance and offset at or below the highest one
 * already accepted for that agent are skipped ({@link PositionFilter}); a batch made only of such
 * lines is acknowledged once the earlier chunk that stored them is committed. A file instance id
 * longer than {@link PositionFilter#MAX_FILE_INSTANCE_BYTES} fails the call with
 * {@code INVALID_ARGUMENT}: the filter remembers ids, so their size is part of its bound.
 *
 * <p><b>Decoding.</b> Requests stay bytes ({@link RawLogBatch}) and are read with
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
   * {@code log.LogService/Send} with the request kept as bytes ({@link RawLogBatch}): same name,
   * same wire format as the generated descriptor, so every client works unchanged.
   */
  public static final MethodDescriptor<RawLogBatch, Empty> SEND_METHOD =
      LogServiceGrpc.getSendMethod().toBuilder(RawLogBatch.MARSHALLER,
          ProtoUtils.marshaller(Empty.getDefaultInstance())).build();

  private static final Logger log = LoggerFactory.getLogger(LogServiceImpl.class);

  /** Says whether a token that let a call in is still good: null if so, else why not. */
  @FunctionalInterface
  public interface TokenCheck {
    InvalidTokenException.Reason recheck(VerifiedToken token);
  }

  private final IngestQueue queue;
  private final TokenCheck tokenCheck;
  private final Set<SendCall> open = ConcurrentHashMap.newKeySet();
  private final PositionFilter positions;
  private final Function<String, String> hostnameOfAgent;
  private final Clock clock;
  private final Executor callbackExecutor;
  private final GrpcIngestCounters counters;

  public LogServiceImpl(
      IngestQueue queue, PositionFilter positions, Function<String, String> hostnameOfAgent,
      Clock clock, Executor callbackExecutor, GrpcIngestCounters counters, TokenCheck tokenCheck) {
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
        .build();
    return ServerServiceDefinition.builder(service)
        .addMethod(SEND_METHOD, ServerCalls.asyncClientStreamingCall(this::send))
        .build();
  }

  StreamObserver<RawLogBatch> send(StreamObserver<Empty> responseObserver) {
    ServerCallStreamObserver<Empty> call = (ServerCallStreamObserver<Empty>) responseObserver;
    AgentIdentity id = AuthInterceptor.IDENTITY.get();
    VerifiedToken token = AuthInterceptor.TOKEN.get();
    if (id == null || token == null) {
      // The interceptor guards this service; reaching here without identity is a wiring bug.
      call.onError(Status.UNAUTHENTICATED.withDescription("no identity").asRuntimeException());
      return new NoopObserver();
    }
    call.disableAutoRequest();
    SendCall s = new SendCall(call, id, token);
    open.add(s);
    call.setOnCancelHandler(s::cancelled);
    call.request(1);
    return s;
  }

  /**
   * Checks the token of every open Send call again and closes those whose token is no longer
   * good with {@code UNAUTHENTICATED}. Returns how many it closed.
   */
  public int recheckOpenCalls() {
    int closed = 0;
    for (SendCall s : open) {
      if (!s.recheck()) {
        closed++;
      }
    }
    return closed;
  }

  /** Send calls open now (tests, metrics). */
  public int openCalls() {
    return open.size();
  }

  /** One Send call: state touched by gRPC's serial delivery and by callbacks, hence synchronized. */
  private final class SendCall implements StreamObserver<RawLogBatch> {
    private final ServerCallStreamObserver<Empty> call;
    private final VerifiedToken token;
    private final String agent;
    private final byte[] agentFields;
    private final JsonLinesEncoder encoder = new JsonLinesEncoder(64 * 1024);
    private final LogBatchReader reader = new LogBatchReader();
    private final QuotedStrings labels = new QuotedStrings();
    private final QuotedStrings fileInstances = new QuotedStrings();
    private long lastSeq;
    private int expansionPercent = 200;
    private RawLogBatch held;
    private boolean halfClosed;
    private boolean done;

    SendCall(ServerCallStreamObserver<Empty> call, AgentIdentity id, VerifiedToken token) {
      this.call = call;
      this.token = token;
      this.agent = id.agentUuid();
      String host = hostnameOfAgent.apply(agent);
      this.agentFields = JsonLinesEncoder.grpcAgentFields(
          id.projectId(), agent, host == null ? "" : host);
    }

    @Override
    public synchronized void onNext(RawLogBatch batch) {
      if (done || !recheck()) {
        return;
      }
      counters.batches.increment();
      if (!offer(batch)) {
        held = batch;
        counters.pausedStreams.incrementAndGet();
        queue.whenResumed(() -> callbackExecutor.execute(this::retryHeld));
        return;
      }
      requestNext();
    }

    /** Encodes and enqueues under the agent's lock; false if the queue is full (nothing kept). */
    private boolean offer(RawLogBatch batch) {
      try {
        return positions.withAgent(agent, p -> {
          try {
            return encodeAndOffer(batch, p);
          } catch (RuntimeException e) {
            p.rollback(); // nothing of this batch was handed over
            throw e;
          }
        });
      } catch (LogBatchReader.MalformedBatchException e) {
        encoder.finish(List.of()); // drop the half-encoded batch
        fail(Status.INVALID_ARGUMENT.withDescription("malformed LogBatch: " + e.getMessage()));
        return true;
      } catch (IllegalStateException e) { // queue closed (shutting down) or store failed
        fail(Status.UNAVAILABLE.withDescription("collector cannot store now: " + e.getMessage()));
        return true;
      }
    }

    private boolean encodeAndOffer(RawLogBatch batch, PositionFilter.AgentPositions p) {
      encoder.receiveTime(clock.currentTimeMillis());
      // one allocation of about the right size (the encoded batch is ~2x its wire size)
      encoder.reserve((int) Math.min(Integer.MAX_VALUE - 64,
          (long) batch.bytes().length * expansionPercent / 100 + 4096));
      long lineBytes = 0;
      byte[] buf = batch.bytes();
      reader.reset(buf, 0, buf.length);
      while (reader.next()) {
        byte[] qfid = null;
        if (reader.hasFileInstance()) {
          if (reader.fileInstanceLength() > PositionFilter.MAX_FILE_INSTANCE_BYTES) {
            throw new LogBatchReader.MalformedBatchException("file_instance of "
                + reader.fileInstanceLength() + " bytes, more than "
                + PositionFilter.MAX_FILE_INSTANCE_BYTES);
          }
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
      if (encoder.isEmpty()) {
        p.rollback();
        // Every line was stored before; ack only once whatever stored them is committed.
        lastSeq = Math.max(lastSeq, queue.lastSeq());
        return true;
      }
      int records = encoder.records();
      expansionPercent = (int) Math.min(1000,
          10 + (long) encoder.length() * 100 / Math.max(1, batch.bytes().length));
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
      log.info("closing Send stream of agent {}: {}", agent, why.description());
      counters.streamsClosedUnauthenticated.increment();
      fail(Status.UNAUTHENTICATED.withDescription(why.description()));
      return false;
    }

    private synchronized void retryHeld() {
      if (done || held == null) {
        return;
      }
      if (!offer(held)) {
        queue.whenResumed(() -> callbackExecutor.execute(this::retryHeld));
        return;
      }
      held = null;
      counters.pausedStreams.decrementAndGet();
      if (halfClosed) {
        ackWhenCommitted();
      } else {
        requestNext();
      }
    }

    private void requestNext() {
      if (done) {
        return;
      }
      if (queue.isPaused()) {
        queue.whenResumed(() -> callbackExecutor.execute(this::requestIfOpen));
      } else {
        call.request(1);
      }
    }

    private synchronized void requestIfOpen() {
      if (!done && !halfClosed) {
        call.request(1);
      }
    }

    @Override
    public synchronized void onError(Throwable t) {
      cancelled();
    }

    synchronized void cancelled() {
      dropHeld();
      done = true;
      open.remove(this);
    }

    private void dropHeld() {
      if (held != null) {
        held = null; // never acknowledged: the agent sends it again
        counters.pausedStreams.decrementAndGet();
      }
    }

    @Override
    public synchronized void onCompleted() {
      if (done) {
        return;
      }
      halfClosed = true;
      if (held == null) {
        ackWhenCommitted();
      }
    }

    private void ackWhenCommitted() {
      queue.whenCommitted(lastSeq, err -> callbackExecutor.execute(() -> finish(err)));
    }

    private synchronized void finish(Throwable err) {
      if (done) {
        return;
      }
      if (err != null) {
        log.warn("store failed; Send from agent {} not acknowledged: {}", agent, err.toString());
        fail(Status.UNAVAILABLE.withDescription("store failed"));
        return;
      }
      done = true;
      open.remove(this);
      call.onNext(Empty.getDefaultInstance());
      call.onCompleted();
    }

    private void fail(Status status) {
      if (done) {
        return;
      }
      done = true;
      open.remove(this);
      dropHeld();
      counters.callsFailed.increment();
      call.onError(status.asRuntimeException());
    }
  }

  private static final class NoopObserver implements StreamObserver<RawLogBatch> {
    @Override
    public void onNext(RawLogBatch value) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }

}
