package dev.rlog.collector.grpc;

import com.google.protobuf.Empty;
import dev.rlog.collector.auth.AgentIdentity;
import dev.rlog.collector.auth.AgentRegistry;
import dev.rlog.collector.auth.AuthInterceptor;
import dev.rlog.common.time.Clock;
import dev.rlog.proto.health.HealthServiceGrpc;
import dev.rlog.proto.health.HeartbeatRequest;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;

/**
 * {@code health.HealthService/Heartbeat}: remembers each agent's last heartbeat (collector
 * receive time, not the agent's clock, so a skewed host is not shown offline), CPU and memory.
 */
public final class HeartbeatServiceImpl extends HealthServiceGrpc.HealthServiceImplBase {
  private final AgentRegistry agents;
  private final Clock clock;

  public HeartbeatServiceImpl(AgentRegistry agents, Clock clock) {
    this.agents = agents;
    this.clock = clock;
  }

  @Override
  public void heartbeat(HeartbeatRequest request, StreamObserver<Empty> response) {
    AgentIdentity id = AuthInterceptor.IDENTITY.get();
    if (!isPercent(request.getCpu()) || !isPercent(request.getMemory())) {
      response.onError(Status.INVALID_ARGUMENT
          .withDescription("cpu and memory must be percentages between 0 and 100")
          .asRuntimeException());
      return;
    }
    agents.heartbeat(id.agentUuid(), clock.currentTimeMillis(), request.getCpu(),
        request.getMemory());
    response.onNext(Empty.getDefaultInstance());
    response.onCompleted();
  }

  private static boolean isPercent(double v) {
    return v >= 0 && v <= 100; // false for NaN
  }
}
