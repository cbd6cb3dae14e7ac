package dev.rlog.collector.auth;

import com.google.protobuf.Empty;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.health.HealthServiceGrpc;
import dev.rlog.proto.health.HeartbeatRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The auth stack wired as the collector wires it, on an in-process gRPC server with direct
 * executors: AuthService and a recording HealthService, both behind the AuthInterceptor.
 */
final class AuthRig implements AutoCloseable {
  static final Duration TTL = Duration.ofMinutes(15);

  final FakeClock clock = new FakeClock();
  final SigningKey key;
  final TokenIssuer issuer;
  final ProjectRegistry projects;
  final AgentRegistry agents;
  final AuthInterceptor interceptor;
  final RecordingHealth health = new RecordingHealth();
  final Server server;
  final ManagedChannel channel;

  /** A HealthService that records each call and the identity it saw. */
  static final class RecordingHealth extends HealthServiceGrpc.HealthServiceImplBase {
    final AtomicInteger calls = new AtomicInteger();
    final AtomicReference<AgentIdentity> identity = new AtomicReference<>();

    @Override
    public void heartbeat(HeartbeatRequest request, StreamObserver<Empty> response) {
      calls.incrementAndGet();
      identity.set(AuthInterceptor.IDENTITY.get());
      response.onNext(Empty.getDefaultInstance());
      response.onCompleted();
    }
  }

  AuthRig(Path stateDir) throws Exception {
    this(stateDir, StateFileWriter.ATOMIC_SECRET);
  }

  /** With {@code writer} for the agents table (a test's failing disk). */
  AuthRig(Path stateDir, StateFileWriter writer) throws Exception {
    key = SigningKey.loadOrCreate(stateDir);
    issuer = new TokenIssuer(key, clock, TTL);
    projects = ProjectRegistry.open(stateDir);
    agents = AgentRegistry.open(stateDir, clock, issuer, writer);
    interceptor = new AuthInterceptor(issuer, agents);
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(health, interceptor))
        .addService(ServerInterceptors.intercept(new AuthServiceImpl(projects, agents), interceptor))
        .build()
        .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  AuthServiceGrpc.AuthServiceBlockingStub auth() {
    return AuthServiceGrpc.newBlockingStub(channel);
  }

  HealthServiceGrpc.HealthServiceBlockingStub health(String authorization) {
    HealthServiceGrpc.HealthServiceBlockingStub stub = HealthServiceGrpc.newBlockingStub(channel);
    if (authorization == null) {
      return stub;
    }
    Metadata md = new Metadata();
    md.put(AuthInterceptor.AUTHORIZATION, authorization);
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
  }

  Empty heartbeat(String authorization) {
    return health(authorization).heartbeat(
        HeartbeatRequest.newBuilder().setCpu(1).setMemory(2).build());
  }

  @Override
  public void close() throws java.io.IOException {
    channel.shutdownNow();
    server.shutdownNow();
    agents.close();
  }
}
