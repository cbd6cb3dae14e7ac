package dev.rlog.collector.auth;

/**
 * A refresh token was refused. The message never contains the token. Callers should answer every
 * reason the same way ({@code UNAUTHENTICATED}); the reason is for logs and metrics.
 */
public final class RefreshRejectedException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Why a refresh token was refused. */
  public enum Reason {
    /** Matches no current or recently replaced token. */
    UNKNOWN("unknown refresh token"),
    /** Matches a token that was already replaced: the agent's tokens are now revoked. */
    REUSED("refresh token was already used; the agent's tokens are revoked");

    private final String description;

    Reason(String description) {
      this.description = description;
    }

    public String description() {
      return description;
    }
  }

  private final Reason reason;

  public RefreshRejectedException(Reason reason) {
    super(reason.description());
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
