package dev.rlog.agent.auth;

import dev.rlog.proto.auth.AuthServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Puts {@code authorization: Bearer <access token>} on every call except
 * {@code auth.AuthService/Register} and {@code /Refresh} (they are how a token is obtained, and
 * must not leak an old one).
 *
 * <p>The token is the call's {@link #ACCESS_TOKEN} option when the caller set one, otherwise the
 * supplier's current token; with neither, the call goes without the header and the collector
 * answers {@code UNAUTHENTICATED}. Callers that set the option know exactly which token a failed
 * call carried, which is what {@link AccessTokens#onUnauthenticated} needs:
 *
 * <pre>{@code
 * String token = tokens.accessToken();
 * stub.withOption(BearerTokenInterceptor.ACCESS_TOKEN, token).heartbeat(req);
 * }</pre>
 *
 * <p>Never blocks (it may run on a transport thread) and never logs the token. Thread-safe.
 */
public final class BearerTokenInterceptor implements ClientInterceptor {
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  /** The access token for one call; overrides the supplier. */
  public static final CallOptions.Key<String> ACCESS_TOKEN =
      CallOptions.Key.create("rlog-access-token");

  private static final Set<String> EXEMPT = Set.of(
      AuthServiceGrpc.getRegisterMethod().getFullMethodName(),
      AuthServiceGrpc.getRefreshMethod().getFullMethodName());

  private final Supplier<String> currentToken;

  /** @param currentToken non-blocking, may return null (e.g. {@code tokens::currentAccessToken}) */
  public BearerTokenInterceptor(Supplier<String> currentToken) {
    if (currentToken == null) {
      throw new IllegalArgumentException("currentToken is required");
    }
    this.currentToken = currentToken;
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
    ClientCall<ReqT, RespT> call = next.newCall(method, options);
    if (EXEMPT.contains(method.getFullMethodName())) {
      return call;
    }
    String explicit = options.getOption(ACCESS_TOKEN);
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      public void start(Listener<RespT> listener, Metadata headers) {
        // Read at start, not at newCall: a renewal between the two should be picked up.
        String token = explicit != null ? explicit : currentToken.get();
        if (token != null && !token.isBlank()) {
          headers.discardAll(AUTHORIZATION);
          headers.put(AUTHORIZATION, "Bearer " + token);
        }
        super.start(listener, headers);
      }
    };
  }
}
