package dev.rlog.agent.config;

/**
 * The agent cannot start: no configuration and no usable environment, or registration failed.
 * The message says what to do and never contains the project key. {@link #retryable()} tells the
 * caller whether trying again later can help (collector unreachable) or not (missing variable,
 * refused project key); either way the process exits non-zero.
 */
public final class FirstStartException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final boolean retryable;

  public FirstStartException(String message, boolean retryable, Throwable cause) {
    super(message, cause);
    this.retryable = retryable;
  }

  public FirstStartException(String message) {
    this(message, false, null);
  }

  public boolean retryable() {
    return retryable;
  }
}
