package dev.rlog.agent.auth;

import com.google.protobuf.Empty;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RefreshRequest;
import dev.rlog.proto.auth.RefreshResponse;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import dev.rlog.proto.health.HealthServiceGrpc;
import dev.rlog.proto.health.HeartbeatRequest;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-process collector with the token rules of the real one: refresh tokens rotate on every
 * refresh, presenting a replaced one revokes the agent, Register with a known uuid of the project
 * keeps it and kills the agent's earlier tokens, and HealthService refuses a call without a
 * current access token ({@code UNAUTHENTICATED}). Knobs let a test fail, delay or expire things.
 */
final class FakeCollector implements AutoCloseable {
  static final String PROJECT_KEY = "pk_test";

  final String name = InProcessServerBuilder.generateName();
  final AtomicInteger refreshCalls = new AtomicInteger();
  final AtomicInteger registerCalls = new AtomicInteger();
  final AtomicInteger heartbeats = new AtomicInteger();
  final List<RegisterRequest> registerRequests = new CopyOnWriteArrayList<>();
  /** authorization header per call, "" when absent, as "method=header". */
  final List<String> seenAuthorization = new CopyOnWriteArrayList<>();

  volatile Status refreshFailsWith;
  volatile boolean refreshHangs;
  /** When set, Refresh counts down {@link #refreshEntered} and waits for this before answering. */
  volatile CountDownLatch refreshGate;
  final CountDownLatch refreshEntered = new CountDownLatch(1);

  // Guarded by this.
  private final Map<String, String> currentRefresh = new HashMap<>(); // uuid -> token
  private final Map<String, String> retiredRefresh = new HashMap<>(); // token -> uuid
  private final Map<String, String> validAccess = new HashMap<>(); // token -> uuid
  private int issued;

  private final Server server;

  FakeCollector() throws IOException {
    ServerInterceptor auth = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        String header = headers.get(BearerTokenInterceptor.AUTHORIZATION);
        String method = call.getMethodDescriptor().getFullMethodName();
        seenAuthorization.add(method + "=" + (header == null ? "" : header));
        if (!call.getMethodDescriptor().getServiceName().equals(AuthServiceGrpc.SERVICE_NAME)
            && (header == null || !header.startsWith("Bearer ")
                || !isValidAccess(header.substring("Bearer ".length())))) {
          call.close(Status.UNAUTHENTICATED.withDescription("expired or unknown token"), new Metadata());
          return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
      }
    };
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new Auth(), auth))
        .addService(ServerInterceptors.intercept(new Health(), auth))
        .build().start();
  }

  /** An agent the collector already knows, holding {@code refresh}. */
  synchronized void seedAgent(String uuid, String refresh) {
    currentRefresh.put(uuid, refresh);
  }

  /** As if the agent's current refresh token had been rotated behind its back. */
  synchronized void rotateBehindTheAgentsBack(String uuid) {
    String old = currentRefresh.get(uuid);
    retiredRefresh.put(old, uuid);
    currentRefresh.put(uuid, "rlr_rotated-" + (++issued));
  }

  /** Every access token issued so far stops working, as if they had all expired. */
  synchronized void expireAccessTokens() {
    validAccess.clear();
  }

  synchronized boolean isValidAccess(String token) {
    return validAccess.containsKey(token);
  }

  synchronized String currentRefreshOf(String uuid) {
    return currentRefresh.get(uuid);
  }

  synchronized Set<String> knownAgents() {
    return new HashSet<>(currentRefresh.keySet());
  }

  private synchronized String[] issue(String uuid) {
    validAccess.values().removeIf(uuid::equals); // a new generation kills the old access tokens
    int n = ++issued;
    String access = "acc-" + n;
    String refresh = "rlr_" + n;
    validAccess.put(access, uuid);
    String old = currentRefresh.put(uuid, refresh);
    if (old != null) {
      retiredRefresh.put(old, uuid);
    }
    return new String[] {access, refresh};
  }

  private final class Auth extends AuthServiceGrpc.AuthServiceImplBase {
    @Override
    public void register(RegisterRequest req, StreamObserver<RegisterResponse> out) {
      registerCalls.incrementAndGet();
      registerRequests.add(req);
      if (!req.getProjectKey().equals(PROJECT_KEY)) {
        out.onError(Status.UNAUTHENTICATED.withDescription("invalid project key").asRuntimeException());
        return;
      }
      String uuid;
      synchronized (FakeCollector.this) {
        uuid = req.hasAgentUuid() && currentRefresh.containsKey(req.getAgentUuid())
            ? req.getAgentUuid() : "uuid-new-" + (issued + 1);
      }
      String[] t = issue(uuid);
      out.onNext(RegisterResponse.newBuilder().setSuccess(true).setAgentUuid(uuid)
          .setAccessToken(t[0]).setRefreshToken(t[1]).setBatchSize(1000).setFlushIntervalSec(10)
          .build());
      out.onCompleted();
    }

    @Override
    public void refresh(RefreshRequest req, StreamObserver<RefreshResponse> out) {
      refreshCalls.incrementAndGet();
      refreshEntered.countDown();
      CountDownLatch gate = refreshGate;
      if (gate != null) {
        try {
          if (!gate.await(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("test never opened the refresh gate");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (refreshHangs) {
        return; // never answers: the client's deadline must end the call
      }
      Status fail = refreshFailsWith;
      if (fail != null) {
        out.onError(fail.asRuntimeException());
        return;
      }
      String token = req.getRefreshToken();
      String uuid;
      synchronized (FakeCollector.this) {
        uuid = currentRefresh.entrySet().stream().filter(e -> token.equals(e.getValue()))
            .map(Map.Entry::getKey).findFirst().orElse(null);
        if (uuid == null) {
          String victim = retiredRefresh.get(token);
          if (victim != null) {
            // Reuse of a replaced token: revoke, as the real collector does.
            currentRefresh.put(victim, "revoked");
            validAccess.values().removeIf(victim::equals);
          }
        }
      }
      if (uuid == null) {
        out.onError(Status.UNAUTHENTICATED.withDescription("invalid refresh token").asRuntimeException());
        return;
      }
      String[] t = issue(uuid);
      out.onNext(RefreshResponse.newBuilder().setSuccess(true).setAccessToken(t[0])
          .setRefreshToken(t[1]).build());
      out.onCompleted();
    }
  }

  private final class Health extends HealthServiceGrpc.HealthServiceImplBase {
    @Override
    public void heartbeat(HeartbeatRequest request, StreamObserver<Empty> out) {
      heartbeats.incrementAndGet();
      out.onNext(Empty.getDefaultInstance());
      out.onCompleted();
    }
  }

  @Override
  public void close() {
    server.shutdownNow();
  }
}
