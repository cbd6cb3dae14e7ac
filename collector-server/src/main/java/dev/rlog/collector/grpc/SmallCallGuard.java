package dev.rlog.collector.grpc;

import dev.rlog.common.time.Clock;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Bounds for the calls that carry one small request message (AuthService Register/Refresh,
 * HealthService Heartbeat, grpc.health): applied by rewrapping a service definition.
 *
 * <ul>
 *   <li><b>Decoded size.</b> The request is read through a cap of {@code maxSmallMessageBytes}
 *       while gRPC inflates it: a gzip bomb stops at the cap (its inflated bytes are never held)
 *       and the call closes with {@code RESOURCE_EXHAUSTED}.
 *   <li><b>Wire size.</b> gRPC has no per-method inbound limit, so the message is requested only
 *       after a receive permit of {@code maxMessageBytes} (the transport's limit, which bounds the
 *       wire bytes of any message) is taken from the in-flight budget shared with Send; until
 *       then its bytes stay in the stream's HTTP/2 window. Exactly one message is ever requested.
 *   <li><b>Concurrency.</b> A {@link Limit} bounds calls in progress on the services that share
 *       it; a call beyond it closes at once with {@code RESOURCE_EXHAUSTED}, before any message.
 * </ul>
 * Every refusal is counted. Thread-safe.
 */
public final class SmallCallGuard {
  private final ByteBudget inflight;
  private final long permitBytes;
  private final int maxSmallMessageBytes;
  private final LongAdder tooLarge = new LongAdder();
  private final LongAdder refusedBusy = new LongAdder();
  private final LongAdder idleClosed = new LongAdder();
  private final Clock clock;
  /** Calls holding a receive permit whose message has not arrived. */
  private final Set<GuardedCall<?, ?>> receiving = ConcurrentHashMap.newKeySet();

  /** Calls in progress on the services that share it, at most {@code max}. */
  public static final class Limit {
    private final String setting;
    private final int max;
    private final AtomicInteger active = new AtomicInteger();

    /** @param setting the config key of {@code max}, named in the refusal */
    public Limit(String setting, int max) {
      if (max < 1) {
        throw new IllegalArgumentException(setting + " must be at least 1, got " + max);
      }
      this.setting = setting;
      this.max = max;
    }

    public int active() {
      return active.get();
    }
  }

  public SmallCallGuard(ByteBudget inflight, long permitBytes, int maxSmallMessageBytes,
      Clock clock) {
    if (permitBytes > inflight.capacity()) {
      throw new IllegalArgumentException("receive permit " + permitBytes
          + " exceeds the in-flight budget " + inflight.capacity());
    }
    this.inflight = inflight;
    this.permitBytes = permitBytes;
    this.maxSmallMessageBytes = maxSmallMessageBytes;
    this.clock = clock;
  }

  /** Calls ended because they held a receive permit idle while others waited. */
  public long idleClosed() {
    return idleClosed.sum();
  }

  /**
   * Ends the calls that have held a receive permit for {@code timeout} without their message
   * arriving, while other calls wait for a permit ({@code UNAVAILABLE}): a client that opens
   * Register calls and sends nothing must not keep the budget from agents with data.
   */
  public int closeIdleReceivers(Duration timeout) {
    long now = clock.nanoTime();
    // Whether a budget has waiters is read once, before this sweep frees any permit.
    Map<ByteBudget, Boolean> starved = new IdentityHashMap<>();
    for (GuardedCall<?, ?> c : receiving) {
      starved.computeIfAbsent(c.budget, b -> b.waiting() > 0);
    }
    int closed = 0;
    for (GuardedCall<?, ?> c : receiving) {
      if (starved.getOrDefault(c.budget, false) && c.closeIfIdle(now, timeout.toNanos())) {
        closed++;
      }
    }
    return closed;
  }

  /** Small requests refused for their decoded size. */
  public long tooLarge() {
    return tooLarge.sum();
  }

  /** Calls refused because their {@link Limit} was reached. */
  public long refusedBusy() {
    return refusedBusy.sum();
  }

  /**
   * {@code service} with every method guarded; {@code limit} (may be null) bounds its calls in
   * progress. Method names and wire formats are unchanged.
   */
  public ServerServiceDefinition guard(ServerServiceDefinition service, Limit limit) {
    return guard(service, limit, inflight);
  }

  /**
   * As {@link #guard(ServerServiceDefinition, Limit)}, but its calls take their receive permits
   * from {@code budget}: unauthenticated calls (Register, Refresh) get a budget of their own, so
   * whoever can reach the port cannot hold the permits the agents' Send calls need.
   */
  public ServerServiceDefinition guard(ServerServiceDefinition service, Limit limit,
      ByteBudget budget) {
    if (permitBytes > budget.capacity()) {
      throw new IllegalArgumentException("receive permit " + permitBytes
          + " exceeds the budget " + budget.capacity());
    }
    ServiceDescriptor sd = service.getServiceDescriptor();
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    ServiceDescriptor.Builder nsd = ServiceDescriptor.newBuilder(sd.getName())
        .setSchemaDescriptor(sd.getSchemaDescriptor());
    for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
      ServerMethodDefinition<?, ?> g = guardMethod(m, limit, budget);
      nsd.addMethod(g.getMethodDescriptor());
      methods.add(g);
    }
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(nsd.build());
    methods.forEach(b::addMethod);
    return b.build();
  }

  private <Q, R> ServerMethodDefinition<Q, R> guardMethod(
      ServerMethodDefinition<Q, R> m, Limit limit, ByteBudget budget) {
    MethodDescriptor<Q, R> md = m.getMethodDescriptor();
    MethodDescriptor<Q, R> capped = md.toBuilder(
        new CappedMarshaller<>(md.getRequestMarshaller(), maxSmallMessageBytes),
        md.getResponseMarshaller()).build();
    ServerCallHandler<Q, R> next = m.getServerCallHandler();
    return ServerMethodDefinition.create(capped, (call, headers) -> start(call, headers, next,
        limit, budget));
  }

  private <Q, R> ServerCall.Listener<Q> start(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next, Limit limit,
      ByteBudget budget) {
    if (limit != null && limit.active.incrementAndGet() > limit.max) {
      limit.active.decrementAndGet();
      refusedBusy.increment();
      call.close(Status.RESOURCE_EXHAUSTED.withDescription("too many concurrent "
          + call.getMethodDescriptor().getServiceName() + " calls (" + limit.setting + " = "
          + limit.max + "); retry later"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    GuardedCall<Q, R> guarded = new GuardedCall<>(call, limit, budget);
    ServerCall.Listener<Q> delegate;
    try {
      delegate = next.startCall(guarded, headers);
    } catch (RuntimeException e) {
      guarded.end();
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onMessage(Q message) {
        guarded.releasePermit();
        if (message == null) { // the capped marshaller's verdict
          tooLarge.increment();
          guarded.refuse(Status.RESOURCE_EXHAUSTED.withDescription("request exceeds "
              + maxSmallMessageBytes + " bytes (grpc.max_small_message_bytes)"));
          return;
        }
        if (!guarded.isRefused()) {
          super.onMessage(message);
        }
      }

      @Override
      public void onHalfClose() {
        guarded.releasePermit();
        if (!guarded.isRefused()) {
          super.onHalfClose();
        }
      }

      @Override
      public void onCancel() {
        guarded.end();
        super.onCancel();
      }

      @Override
      public void onComplete() {
        guarded.end();
        super.onComplete();
      }
    };
  }

  /** Requests the one message only with a receive permit; holds it until the message is read. */
  private final class GuardedCall<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
    private final Limit limit;
    private final ByteBudget budget;
    private boolean requested;
    private boolean permitHeld;
    private long permitSinceNanos;
    private boolean refused;
    private boolean ended;

    GuardedCall(ServerCall<Q, R> call, Limit limit, ByteBudget budget) {
      super(call);
      this.limit = limit;
      this.budget = budget;
    }

    @Override
    public synchronized void request(int n) {
      if (requested || ended || n <= 0) {
        return; // one request message per call: a second one is never read
      }
      requested = true;
      if (budget.acquireOrWait(permitBytes, this::permitGranted)) {
        holdPermit();
        super.request(1);
      }
    }

    private void holdPermit() {
      permitHeld = true;
      permitSinceNanos = clock.nanoTime();
      receiving.add(this);
    }

    synchronized boolean closeIfIdle(long nowNanos, long timeoutNanos) {
      if (!permitHeld || ended || refused || nowNanos - permitSinceNanos < timeoutNanos) {
        return false;
      }
      idleClosed.increment();
      refuse(Status.UNAVAILABLE.withDescription("no request message for "
          + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s while other calls wait; retry"));
      releasePermit();
      return true;
    }

    private synchronized void permitGranted() {
      if (ended || refused) {
        budget.release(permitBytes);
        return;
      }
      holdPermit();
      super.request(1);
    }

    synchronized void releasePermit() {
      if (permitHeld) {
        permitHeld = false;
        receiving.remove(this);
        budget.release(permitBytes);
      }
    }

    synchronized boolean isRefused() {
      return refused;
    }

    synchronized void refuse(Status status) {
      if (!refused && !ended) {
        refused = true;
        super.close(status, new Metadata());
      }
    }

    @Override
    public synchronized void close(Status status, Metadata trailers) {
      if (!refused) {
        super.close(status, trailers);
      }
    }

    synchronized void end() {
      if (ended) {
        return;
      }
      ended = true;
      releasePermit();
      if (limit != null) {
        limit.active.decrementAndGet();
      }
    }
  }

  /** {@code delegate} reading at most {@code cap} decoded bytes; null (refused) beyond. */
  static <T> MethodDescriptor.Marshaller<T> capped(MethodDescriptor.Marshaller<T> delegate,
      int cap) {
    return new CappedMarshaller<>(delegate, cap);
  }

  /**
   * Reads at most {@code cap + 1} decoded bytes; returns null (refused) beyond {@code cap}
   * without reading, or inflating, the rest.
   */
  private static final class CappedMarshaller<T> implements MethodDescriptor.Marshaller<T> {
    private final MethodDescriptor.Marshaller<T> delegate;
    private final int cap;

    CappedMarshaller(MethodDescriptor.Marshaller<T> delegate, int cap) {
      this.delegate = delegate;
      this.cap = cap;
    }

    @Override
    public InputStream stream(T value) {
      return delegate.stream(value);
    }

    @Override
    public T parse(InputStream stream) {
      byte[] bytes;
      try {
        bytes = stream.readNBytes(cap + 1);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      if (bytes.length > cap) {
        return null;
      }
      return delegate.parse(new ByteArrayInputStream(bytes));
    }
  }
}
