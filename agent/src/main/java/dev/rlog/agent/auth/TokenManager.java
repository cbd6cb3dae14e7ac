package dev.rlog.agent.auth;

import dev.rlog.agent.config.AgentState;
import dev.rlog.common.time.Clock;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RefreshRequest;
import dev.rlog.proto.auth.RefreshResponse;
import dev.rlog.proto.auth.RegisterResponse;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the agent's tokens: the access token in memory only, the refresh token in memory and in
 * {@code state/token}. Renews the access token when the collector refuses it: {@code Refresh}
 * with the refresh token; if that is refused ({@code UNAUTHENTICATED}, {@code INVALID_ARGUMENT},
 * or no stored token), {@code Register} again with the project key, the stored agent uuid and the
 * agent secret, so the collector keeps the agent's identity (and with it the positions it
 * deduplicates by). Should the collector answer with another uuid (it did not know ours, or ours
 * was registered with another secret), that uuid is saved and used from then on.
 *
 * <p><b>Single flight.</b> The collector rotates refresh tokens on every refresh and revokes the
 * agent when a replaced one is presented again, so two concurrent refreshes with the same token
 * would look like theft. Hence at most one renewal runs at a time; concurrent callers wait for it
 * and share its result, and a caller whose failed token was already replaced gets the newer
 * token without any call.
 *
 * <p><b>Durability order.</b> A new refresh token is written to {@code state/token} (atomically,
 * 0600) before the new access token is handed out. If that write fails the new refresh token is
 * still kept in memory (the collector has retired the old one) and the renewal fails with
 * {@code UNAVAILABLE}; the next renewal tries again. A crash between the collector's rotation and
 * the write leaves a retired token on disk: the next start's Refresh is refused (and the collector
 * revokes the agent's tokens), then Register with the stored uuid restores the agent.
 *
 * <p><b>Failures.</b> Every call has a deadline. {@code UNAVAILABLE}, {@code DEADLINE_EXCEEDED}
 * and any refusal of Register (a wrong project key) propagate as {@link StatusRuntimeException}:
 * the caller retries with backoff. A token reported failed within {@link #MIN_RENEW_INTERVAL} of
 * its own renewal is not renewed again but answered {@code UNAVAILABLE}, so a collector that
 * rejects fresh tokens (for instance another agent process sharing this state directory) makes
 * callers back off instead of looping on renewals.
 *
 * <p><b>Threading.</b> Thread-safe. One monitor guards the fields and is never held across a call
 * or file write; the renewal runs on the thread of the caller that started it. Tokens are never
 * logged.
 */
public final class TokenManager implements AccessTokens {
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(10);
  public static final Duration MIN_RENEW_INTERVAL = Duration.ofSeconds(1);

  private static final Logger log = LoggerFactory.getLogger(TokenManager.class);

  private final Channel channel;
  private final Registrar registrar;
  private final AgentState state;
  private final String projectKey;
  private final String agentSecret;
  private final Clock clock;
  private final Duration deadline;

  private final Object lock = new Object();
  // Guarded by lock.
  private String access;
  private String refresh;
  private String agentUuid;
  private CompletableFuture<String> renewal;
  private long renewedAtNanos;
  private boolean renewedOnce;

  private final AtomicLong refreshes = new AtomicLong();
  private final AtomicLong registrations = new AtomicLong();
  private final AtomicLong failedRenewals = new AtomicLong();

  private TokenManager(Channel channel, AgentState state, String projectKey, String agentSecret,
      HostInfo host, Clock clock, Duration deadline, String initialAccessToken, String refresh,
      String agentUuid) {
    this.channel = channel;
    this.registrar = new Registrar(channel, host, deadline);
    this.state = state;
    this.projectKey = projectKey;
    this.agentSecret = agentSecret;
    this.clock = clock;
    this.deadline = deadline;
    this.access = initialAccessToken;
    this.refresh = refresh;
    this.agentUuid = agentUuid;
    if (initialAccessToken != null) {
      renewedAtNanos = clock.nanoTime();
      renewedOnce = true;
    }
  }

  /**
   * Reads {@code state/agent_uuid}, {@code state/agent_secret} (generating it if absent, as after
   * an upgrade from a version without one) and {@code state/token}. A missing or unreadable token
   * file only means the first renewal registers again; an unreadable uuid or secret file is an
   * error, since registering without it would give the agent a new identity.
   *
   * @param channel the collector's channel (may carry {@link BearerTokenInterceptor}; Register and
   *     Refresh are exempt from it)
   * @param initialAccessToken the access token just obtained by {@code FirstStart}, or null
   * @param deadline per-call deadline, {@link #DEFAULT_DEADLINE} unless there is a reason
   * @throws IOException if {@code state/agent_uuid} or {@code state/agent_secret} exists but
   *     cannot be read or is invalid, or a new secret cannot be saved
   */
  public static TokenManager open(Channel channel, AgentState state, String projectKey,
      HostInfo host, Clock clock, Duration deadline, String initialAccessToken) throws IOException {
    Objects.requireNonNull(channel, "channel");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(deadline, "deadline");
    if (projectKey == null || projectKey.isBlank()) {
      throw new IllegalArgumentException("projectKey is required");
    }
    String uuid = state.readAgentUuid().orElse(null);
    String secret = state.agentSecret();
    String refresh;
    try {
      refresh = state.readRefreshToken().orElse(null);
    } catch (IOException e) {
      // The message names the file, never its content.
      log.warn("ignoring unreadable refresh token, will register again: {}", e.getMessage());
      refresh = null;
    }
    if (refresh == null) {
      log.warn("no refresh token in {}; the first renewal registers this agent again",
          state.tokenFile());
    }
    return new TokenManager(channel, state, projectKey, secret, host, clock, deadline,
        initialAccessToken, refresh, uuid);
  }

  @Override
  public String accessToken() {
    String current = currentAccessToken();
    return current != null ? current : onUnauthenticated(null);
  }

  @Override
  public String currentAccessToken() {
    synchronized (lock) {
      return access;
    }
  }

  @Override
  public String onUnauthenticated(String failedToken) {
    CompletableFuture<String> flight;
    boolean leader = false;
    synchronized (lock) {
      if (renewal != null) {
        flight = renewal;
      } else if (access != null && !access.equals(failedToken)) {
        return access; // someone already replaced the token that failed
      } else {
        if (access != null && renewedOnce
            && clock.nanoTime() - renewedAtNanos < MIN_RENEW_INTERVAL.toNanos()) {
          failedRenewals.incrementAndGet();
          throw Status.UNAVAILABLE
              .withDescription("collector refused an access token issued less than "
                  + MIN_RENEW_INTERVAL.toMillis() + " ms ago; backing off")
              .asRuntimeException();
        }
        flight = new CompletableFuture<>();
        renewal = flight;
        leader = true;
      }
    }
    if (leader) {
      lead(flight);
    }
    return await(flight);
  }

  /** Refresh calls that returned new tokens. */
  public long refreshCount() {
    return refreshes.get();
  }

  /** Register calls made to renew tokens (not counting the first start). */
  public long registrationCount() {
    return registrations.get();
  }

  /** Renewals that ended in an error (each one surfaced to its callers). */
  public long failedRenewalCount() {
    return failedRenewals.get();
  }

  @Override
  public String toString() {
    return "TokenManager[" + state + "]"; // no token content
  }

  private void lead(CompletableFuture<String> flight) {
    String fresh = null;
    Throwable failure = null;
    try {
      fresh = renew();
    } catch (Throwable t) {
      failure = t;
    }
    synchronized (lock) {
      renewal = null;
      if (fresh != null) {
        access = fresh;
        renewedAtNanos = clock.nanoTime();
        renewedOnce = true;
      }
    }
    if (failure == null) {
      flight.complete(fresh);
    } else {
      // The leader and every waiter see the failure through await(), errors included.
      failedRenewals.incrementAndGet();
      flight.completeExceptionally(failure);
    }
  }

  /** Runs on the leader's thread only, so the refresh token is never presented twice at once. */
  private String renew() {
    String presented;
    String uuid;
    synchronized (lock) {
      presented = refresh;
      uuid = agentUuid;
    }
    if (presented != null) {
      try {
        RefreshResponse r = AuthServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS)
            .refresh(RefreshRequest.newBuilder().setRefreshToken(presented).build());
        if (r.getSuccess() && !r.getAccessToken().isBlank() && !r.getRefreshToken().isBlank()) {
          persistRefresh(r.getRefreshToken());
          refreshes.incrementAndGet();
          log.info("access token refreshed");
          return r.getAccessToken();
        }
        log.warn("collector answered Refresh without tokens; registering again");
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if (code != Status.Code.UNAUTHENTICATED && code != Status.Code.INVALID_ARGUMENT) {
          throw e;
        }
        log.warn("refresh token refused ({}); registering again with the stored agent uuid",
            code);
      }
    }
    RegisterResponse r = registrar.register(projectKey, Optional.ofNullable(uuid), agentSecret);
    if (!r.getAgentUuid().equals(uuid)) {
      // The collector did not know the stored uuid (or there was none). Written before the
      // token so that a crash in between never pairs the new token with the old identity.
      persistUuid(r.getAgentUuid());
      log.warn("collector assigned this agent a new uuid; it is saved in {}",
          state.agentUuidFile());
    }
    persistRefresh(r.getRefreshToken());
    registrations.incrementAndGet();
    log.info("agent registered again; tokens renewed");
    return r.getAccessToken();
  }

  private void persistRefresh(String token) {
    synchronized (lock) {
      // The collector has already retired the previous token; keep the new one even if the
      // write below fails, so the next renewal presents a token the collector still honours.
      refresh = token;
    }
    try {
      state.writeRefreshToken(token);
    } catch (IOException | IllegalArgumentException e) {
      throw Status.UNAVAILABLE.withDescription("cannot save " + state.tokenFile())
          .withCause(e).asRuntimeException();
    }
  }

  private void persistUuid(String uuid) {
    synchronized (lock) {
      agentUuid = uuid;
    }
    try {
      state.writeAgentUuid(uuid);
    } catch (IOException | IllegalArgumentException e) {
      throw Status.UNAVAILABLE.withDescription("cannot save " + state.agentUuidFile())
          .withCause(e).asRuntimeException();
    }
  }

  private static String await(CompletableFuture<String> flight) {
    try {
      return flight.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.withDescription("interrupted while waiting for a token renewal")
          .withCause(e).asRuntimeException();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof StatusRuntimeException sre) {
        // A new exception per waiter keeps each caller's stack trace; the status is shared.
        throw sre.getStatus().withCause(sre).asRuntimeException(sre.getTrailers());
      }
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw Status.INTERNAL.withCause(cause).asRuntimeException();
    }
  }
}
