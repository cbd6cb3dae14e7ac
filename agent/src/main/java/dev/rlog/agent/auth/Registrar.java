package dev.rlog.agent.auth;

import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import io.grpc.Channel;
import io.grpc.Status;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One {@code AuthService/Register} call: project key plus this host's description, the agent
 * secret ({@code agent_secret}, which proves the uuid is ours) and the stored agent uuid when
 * there is one (the collector keeps that uuid only if the secret is the one it was registered
 * with; otherwise it answers with a new uuid). Every call has a
 * deadline. A response that is not a usable registration becomes a {@link
 * io.grpc.StatusRuntimeException}: {@code success=false} is {@code UNAUTHENTICATED} (the original
 * protocol's refusal), missing tokens or uuid are {@code INTERNAL}.
 *
 * <p>Stateless and thread-safe; the request carries the project key and the secret, so it is never
 * logged.
 */
public final class Registrar {
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(10);

  private final Channel channel;
  private final HostInfo host;
  private final Duration deadline;

  public Registrar(Channel channel, HostInfo host, Duration deadline) {
    if (channel == null || host == null || deadline == null || deadline.isNegative()
        || deadline.isZero()) {
      throw new IllegalArgumentException("channel, host and a positive deadline are required");
    }
    this.channel = channel;
    this.host = host;
    this.deadline = deadline;
  }

  public HostInfo host() {
    return host;
  }

  /**
   * Registers this host.
   *
   * @throws io.grpc.StatusRuntimeException {@code UNAUTHENTICATED} for a refused project key,
   *     {@code UNAVAILABLE}/{@code DEADLINE_EXCEEDED} when the collector cannot be reached in time
   */
  public RegisterResponse register(String projectKey, Optional<String> agentUuid,
      String agentSecret) {
    if (agentSecret == null || agentSecret.isEmpty()) {
      throw new IllegalArgumentException("agentSecret is required");
    }
    RegisterRequest.Builder req = RegisterRequest.newBuilder()
        .setProjectKey(projectKey)
        .setAgentSecret(agentSecret)
        .setHostname(host.hostname())
        .setOs(host.os())
        .setOsVersion(host.osVersion());
    agentUuid.ifPresent(req::setAgentUuid);
    // A fresh stub per call: withDeadlineAfter fixes the deadline when the stub is made.
    RegisterResponse r = AuthServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
        .register(req.build());
    if (!r.getSuccess()) {
      throw Status.UNAUTHENTICATED.withDescription("registration refused").asRuntimeException();
    }
    if (r.getAgentUuid().isBlank() || r.getAccessToken().isBlank()
        || r.getRefreshToken().isBlank()) {
      throw Status.INTERNAL
          .withDescription("collector answered Register without agent_uuid or tokens")
          .asRuntimeException();
    }
    return r;
  }
}
