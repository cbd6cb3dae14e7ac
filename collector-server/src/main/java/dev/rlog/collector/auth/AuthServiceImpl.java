package dev.rlog.collector.auth;

import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RefreshRequest;
import dev.rlog.proto.auth.RefreshResponse;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code auth.AuthService}: Register exchanges a project key for an agent uuid, tokens and the
 * project's settings; Refresh exchanges a refresh token for a new pair. Both are exempt from
 * {@link AuthInterceptor}.
 *
 * <p>Answers: malformed input (empty or oversized field, control characters) is
 * {@code INVALID_ARGUMENT} naming the field; a wrong project key or a refused refresh token is
 * {@code UNAUTHENTICATED} with a fixed description that reveals nothing about which secrets
 * exist; a failed state write is {@code UNAVAILABLE} (nothing changed, the agent retries with the
 * same tokens); a full agent table is {@code RESOURCE_EXHAUSTED}. Secrets (project key, agent
 * secret, tokens) are never logged.
 *
 * <p>Identity: which uuid a Register gets is {@link IdentityRule}'s decision (see
 * {@link AgentRegistry#register}); a request naming a uuid it may not have is not refused but
 * answered with a fresh uuid, exactly as an unknown uuid is, so the answer tells nothing about
 * other agents.
 *
 * <p>Threading: stateless; the registries are thread-safe. Each call does one file write
 * (fsync), so run it on an executor that may block.
 */
public final class AuthServiceImpl extends AuthServiceGrpc.AuthServiceImplBase {
  public static final int MAX_HOSTNAME_CHARS = 255;
  public static final int MAX_OS_CHARS = 128;
  public static final int MAX_OS_VERSION_CHARS = 128;
  public static final int MAX_AGENT_UUID_CHARS = 64;
  /** An agent secret, when present, must be at least this long (ours sends 43 characters). */
  public static final int MIN_AGENT_SECRET_CHARS = 16;
  public static final int MAX_AGENT_SECRET_CHARS = 256;

  private static final Logger log = LoggerFactory.getLogger(AuthServiceImpl.class);

  private final ProjectRegistry projects;
  private final AgentRegistry agents;

  public AuthServiceImpl(ProjectRegistry projects, AgentRegistry agents) {
    if (projects == null || agents == null) {
      throw new IllegalArgumentException("projects and agents are required");
    }
    this.projects = projects;
    this.agents = agents;
  }

  @Override
  public void register(RegisterRequest request, StreamObserver<RegisterResponse> response) {
    String problem = problemWith(request);
    if (problem != null) {
      response.onError(Status.INVALID_ARGUMENT.withDescription(problem).asRuntimeException());
      return;
    }
    Optional<Project> project = projects.findByKey(request.getProjectKey());
    if (project.isEmpty()) {
      log.info("refused registration of host {}: invalid project key", request.getHostname());
      response.onError(
          Status.UNAUTHENTICATED.withDescription("invalid project key").asRuntimeException());
      return;
    }
    IssuedTokens tokens;
    try {
      tokens = agents.register(project.get(), request);
    } catch (AgentRegistry.TableFullException e) {
      log.warn("refused registration of host {}: {}", request.getHostname(), e.getMessage());
      response.onError(Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage()).asRuntimeException());
      return;
    } catch (IOException e) {
      log.error("could not save the registration of host {}: {}", request.getHostname(), e.toString());
      response.onError(Status.UNAVAILABLE.withDescription("could not save agent state").asRuntimeException());
      return;
    }
    response.onNext(toResponse(project.get(), tokens));
    response.onCompleted();
  }

  @Override
  public void refresh(RefreshRequest request, StreamObserver<RefreshResponse> response) {
    String token = request.getRefreshToken();
    if (token.isEmpty() || token.length() > AgentRegistry.MAX_REFRESH_TOKEN_CHARS) {
      response.onError(Status.INVALID_ARGUMENT
          .withDescription("refresh_token must be 1.." + AgentRegistry.MAX_REFRESH_TOKEN_CHARS
              + " characters")
          .asRuntimeException());
      return;
    }
    IssuedTokens tokens;
    try {
      tokens = agents.refresh(token);
    } catch (RefreshRejectedException e) {
      log.info("refused refresh: {}", e.reason());
      response.onError(
          Status.UNAUTHENTICATED.withDescription("invalid refresh token").asRuntimeException());
      return;
    } catch (IOException e) {
      log.error("could not save a token refresh: {}", e.toString());
      response.onError(Status.UNAVAILABLE.withDescription("could not save agent state").asRuntimeException());
      return;
    }
    response.onNext(RefreshResponse.newBuilder()
        .setSuccess(true)
        .setAccessToken(tokens.accessToken())
        .setRefreshToken(tokens.refreshToken())
        .build());
    response.onCompleted();
  }

  private static RegisterResponse toResponse(Project project, IssuedTokens tokens) {
    RegisterResponse.Builder b = RegisterResponse.newBuilder()
        .setSuccess(true)
        .setAgentUuid(tokens.agentUuid())
        .setAccessToken(tokens.accessToken())
        .setRefreshToken(tokens.refreshToken())
        .setTimezone(project.timezone())
        .setBatchSize(project.batchSize())
        .setFlushIntervalSec(project.flushIntervalSec());
    for (Project.Source s : project.sources()) {
      b.addSources(RegisterResponse.Source.newBuilder()
          .setLabel(s.label()).setPath(s.path()).setEnabled(s.enabled()).build());
    }
    return b.build();
  }

  /** The first problem with the request's fields, or null. os_version may be empty. */
  static String problemWith(RegisterRequest r) {
    String problem = text("project_key", r.getProjectKey(), ProjectRegistry.MAX_KEY_CHARS, true);
    if (problem == null) {
      problem = text("hostname", r.getHostname(), MAX_HOSTNAME_CHARS, true);
    }
    if (problem == null) {
      problem = text("os", r.getOs(), MAX_OS_CHARS, true);
    }
    if (problem == null) {
      problem = text("os_version", r.getOsVersion(), MAX_OS_VERSION_CHARS, false);
    }
    if (problem == null && r.hasAgentUuid()) {
      problem = text("agent_uuid", r.getAgentUuid(), MAX_AGENT_UUID_CHARS, false);
    }
    if (problem == null && !r.getAgentSecret().isEmpty()) {
      // The description never echoes the secret.
      problem = text("agent_secret", r.getAgentSecret(), MAX_AGENT_SECRET_CHARS, false);
      if (problem == null && r.getAgentSecret().length() < MIN_AGENT_SECRET_CHARS) {
        problem = "agent_secret must be empty or at least " + MIN_AGENT_SECRET_CHARS + " characters";
      }
    }
    return problem;
  }

  private static String text(String field, String value, int maxChars, boolean required) {
    if (required && value.isBlank()) {
      return field + " must not be empty";
    }
    if (value.length() > maxChars) {
      return field + " must be at most " + maxChars + " characters";
    }
    if (value.chars().anyMatch(Character::isISOControl)) {
      return field + " must not contain control characters";
    }
    return null;
  }
}
