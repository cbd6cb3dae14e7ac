package dev.rlog.collector.auth;

/**
 * The tokens handed to an agent by Register or Refresh. Holds plain secrets: send them to the
 * agent and drop them; {@link #toString()} is redacted so they do not end up in logs.
 */
public record IssuedTokens(String agentUuid, String accessToken, String refreshToken) {
  @Override
  public String toString() {
    return "IssuedTokens[agentUuid=" + agentUuid + ", tokens redacted]";
  }
}
