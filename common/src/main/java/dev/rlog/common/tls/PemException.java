package dev.rlog.common.tls;

/**
 * A PEM file that cannot be read or does not hold what it should. The message names the file and
 * the problem, never the file's content (it may be a private key).
 */
public final class PemException extends Exception {
  private static final long serialVersionUID = 1L;

  public PemException(String message) {
    super(message);
  }

  public PemException(String message, Throwable cause) {
    super(message, cause);
  }
}
