package dev.rlog.collector.auth;

import dev.rlog.common.time.Clock;
import dev.rlog.proto.auth.AuthServiceGrpc;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets a call through only with a valid access token: {@code authorization: Bearer <jwt>}
 * metadata whose signature and expiry {@link TokenIssuer} accepts and whose generation is still
 * the agent's current one ({@link AgentRegistry#isTokenCurrent}). The caller's
 * {@link AgentIdentity} is then available to the handler as {@code IDENTITY.get()}. A call
 * without one is closed with {@code UNAUTHENTICATED} (the description says why, never echoing the
 * token) before the handler sees anything, and counted.
 *
 * <p>The check is made when a call starts. A handler whose call lives on (a {@code Send} stream)
 * asks {@link #recheck} again on each message and on a timer, so expiry and revocation end it
 * within a bound (see {@code LogServiceImpl}).
 *
 * <p>Exempt: {@code auth.AuthService/Register} and {@code /Refresh} (they are how a token is
 * obtained), {@code grpc.health.v1.Health} (probes) and server reflection.
 *
 * <p>Threading: stateless apart from atomic counters; one instance serves all calls.
 * Bounds: an authorization value longer than {@value #MAX_HEADER_CHARS} characters is refused as
 * malformed.
 */
public final class AuthInterceptor implements ServerInterceptor {
  public static final Context.Key<AgentIdentity> IDENTITY = Context.key("rlog-agent-identity");
  /** The verified access token the call was let in with, for handlers that outlive a check. */
  public static final Context.Key<VerifiedToken> TOKEN = Context.key("rlog-access-token");
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  public static final int MAX_HEADER_CHARS = 8192;

  private static final Logger log = LoggerFactory.getLogger(AuthInterceptor.class);
  private static final String BEARER = "bearer ";
  private static final Set<String> EXEMPT_METHODS = Set.of(
      AuthServiceGrpc.getRegisterMethod().getFullMethodName(),
      AuthServiceGrpc.getRefreshMethod().getFullMethodName());
  private static final Set<String> EXEMPT_SERVICES = Set.of(
      HealthGrpc.SERVICE_NAME,
      io.grpc.reflection.v1.ServerReflectionGrpc.SERVICE_NAME,
      io.grpc.reflection.v1alpha.ServerReflectionGrpc.SERVICE_NAME);

  private final TokenIssuer issuer;
  private final AgentRegistry agents;
  private final Clock clock;
  private final AtomicLong rejected = new AtomicLong();
  private final Map<InvalidTokenException.Reason, AtomicLong> rejectedByReason =
      new EnumMap<>(InvalidTokenException.Reason.class);

  public AuthInterceptor(TokenIssuer issuer, AgentRegistry agents) {
    if (issuer == null || agents == null) {
      throw new IllegalArgumentException("issuer and agents are required");
    }
    this.issuer = issuer;
    this.agents = agents;
    this.clock = issuer.clock();
    for (InvalidTokenException.Reason r : InvalidTokenException.Reason.values()) {
      rejectedByReason.put(r, new AtomicLong());
    }
  }

  /** Calls refused so far, all reasons together. */
  public long rejected() {
    return rejected.get();
  }

  /** Calls refused so far for one reason. */
  public long rejected(InvalidTokenException.Reason reason) {
    return rejectedByReason.get(reason).get();
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    if (EXEMPT_METHODS.contains(method)
        || EXEMPT_SERVICES.contains(call.getMethodDescriptor().getServiceName())) {
      return next.startCall(call, headers);
    }
    VerifiedToken token;
    try {
      token = authenticate(headers.get(AUTHORIZATION));
    } catch (InvalidTokenException e) {
      rejected.incrementAndGet();
      rejectedByReason.get(e.reason()).incrementAndGet();
      log.debug("refused {}: {}", method, e.getMessage());
      call.close(Status.UNAUTHENTICATED.withDescription(e.getMessage()), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    Context context = Context.current()
        .withValue(IDENTITY, token.identity())
        .withValue(TOKEN, token);
    return Contexts.interceptCall(context, call, headers, next);
  }

  /**
   * Checks again a token that was valid when its call started: null while it still is, else why
   * not ({@code EXPIRED}: its expiry passed on the issuer's clock; {@code REVOKED}: the agent was
   * revoked or registered again since). Cheap: no parsing, one table lookup.
   */
  public InvalidTokenException.Reason recheck(VerifiedToken token) {
    if (!clock.now().isBefore(token.expiresAt())) {
      return InvalidTokenException.Reason.EXPIRED;
    }
    AgentIdentity id = token.identity();
    if (!agents.isTokenCurrent(id.agentUuid(), id.projectId(), token.generation())) {
      return InvalidTokenException.Reason.REVOKED;
    }
    return null;
  }

  private VerifiedToken authenticate(String header) throws InvalidTokenException {
    if (header == null || header.isBlank()) {
      throw new InvalidTokenException(InvalidTokenException.Reason.MISSING);
    }
    if (header.length() > MAX_HEADER_CHARS
        || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      throw new InvalidTokenException(InvalidTokenException.Reason.MALFORMED);
    }
    VerifiedToken token = issuer.verifyClaims(header.substring(BEARER.length()).strip());
    AgentIdentity id = token.identity();
    if (!agents.isTokenCurrent(id.agentUuid(), id.projectId(), token.generation())) {
      throw new InvalidTokenException(InvalidTokenException.Reason.REVOKED);
    }
    return token;
  }
}
