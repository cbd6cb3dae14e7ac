package dev.rlog.agent.auth;

/**
 * Where callers get the access token to put on a call and what they do when the collector
 * answers {@code UNAUTHENTICATED}. {@link TokenManager} is the implementation; the interface lets
 * a caller such as the heartbeat be tested without a collector.
 */
public interface AccessTokens {

  /**
   * The access token to use now. Blocks only when none is held yet (first call after a restart),
   * while one is obtained.
   *
   * @throws io.grpc.StatusRuntimeException if none could be obtained; retry with backoff
   */
  String accessToken();

  /** The access token held now, or null; never blocks. */
  String currentAccessToken();

  /**
   * Called when a call made with {@code failedToken} (null if it carried none) was answered
   * {@code UNAUTHENTICATED}. Returns the token to retry with: the newer one if {@code failedToken}
   * was already replaced, otherwise a renewed one. Blocks while a renewal is under way.
   *
   * @throws io.grpc.StatusRuntimeException if the renewal failed; retry with backoff
   */
  String onUnauthenticated(String failedToken);
}
