package dev.rlog.collector.auth;

/**
 * An access token was refused. The message says why ({@link Reason}) and never contains the
 * token, so it may be logged and sent to the client as a status description.
 */
public final class InvalidTokenException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Why a token was refused. */
  public enum Reason {
    MISSING("missing access token"),
    MALFORMED("malformed access token"),
    FORGED("access token signature is invalid"),
    EXPIRED("access token expired"),
    REVOKED("access token revoked");

    private final String description;

    Reason(String description) {
      this.description = description;
    }

    public String description() {
      return description;
    }
  }

  private final Reason reason;

  public InvalidTokenException(Reason reason) {
    super(reason.description());
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
