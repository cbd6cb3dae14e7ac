package dev.rlog.collector.auth;

/**
 * Who is calling: the agent and its project, as proven by a verified access token. Put in the
 * gRPC {@code Context} under {@link AuthInterceptor#IDENTITY} for every authenticated call.
 */
public record AgentIdentity(String agentUuid, String projectId) {
  public AgentIdentity {
    if (agentUuid == null || agentUuid.isEmpty() || projectId == null || projectId.isEmpty()) {
      throw new IllegalArgumentException("agentUuid and projectId must not be empty");
    }
  }
}
