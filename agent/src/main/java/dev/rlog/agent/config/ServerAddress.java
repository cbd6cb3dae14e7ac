package dev.rlog.agent.config;

import java.util.Locale;

/**
 * The collector's gRPC address and whether it is reached over TLS. Written as {@code host:port}
 * or {@code http://host:port} (plaintext; the form the original rlog-agent documents) or {@code
 * https://host:port} (TLS); an IPv6 literal goes in brackets ({@code [::1]:50051}). {@link
 * #toString()} gives back the canonical form: {@code host:port} for plaintext, {@code
 * https://host:port} for TLS, fit to be written to {@code agent.yaml} and parsed again.
 */
public record ServerAddress(String host, int port, boolean tls) {
  public static final String PLAINTEXT_SCHEME = "http://";
  public static final String TLS_SCHEME = "https://";

  public ServerAddress {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("host is empty");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port must be between 1 and 65535, got " + port);
    }
  }

  /** A plaintext address. */
  public ServerAddress(String host, int port) {
    this(host, port, false);
  }

  /**
   * Parses {@code host:port}, {@code http://host:port} or {@code https://host:port} (a trailing
   * {@code /} is allowed, a path is not).
   *
   * @throws IllegalArgumentException with a message fit to follow "key 'server_addr': "
   */
  public static ServerAddress parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("is empty; expected host:port or https://host:port");
    }
    String s = text.strip();
    String lower = s.toLowerCase(Locale.ROOT);
    boolean tls = false;
    String rest = s;
    if (lower.startsWith(TLS_SCHEME)) {
      tls = true;
      rest = s.substring(TLS_SCHEME.length());
    } else if (lower.startsWith(PLAINTEXT_SCHEME)) {
      rest = s.substring(PLAINTEXT_SCHEME.length());
    } else if (s.contains("://")) {
      throw new IllegalArgumentException("must be host:port, http://host:port or"
          + " https://host:port (e.g. https://collector.example.com:50051), got '" + s + "'");
    }
    if (rest.endsWith("/")) {
      rest = rest.substring(0, rest.length() - 1);
    }
    if (rest.indexOf('/') >= 0 || rest.indexOf('?') >= 0 || rest.indexOf('#') >= 0
        || rest.indexOf('@') >= 0) {
      throw new IllegalArgumentException("must be a host and a port without path, query or user"
          + " (e.g. https://collector.example.com:50051), got '" + s + "'");
    }
    String host;
    String portText;
    if (rest.startsWith("[")) {
      int close = rest.indexOf(']');
      if (close < 0 || close + 1 >= rest.length() || rest.charAt(close + 1) != ':') {
        throw new IllegalArgumentException("must be [ipv6]:port, got '" + s + "'");
      }
      host = rest.substring(1, close);
      portText = rest.substring(close + 2);
    } else {
      int colon = rest.lastIndexOf(':');
      if (colon <= 0 || rest.indexOf(':') != colon) {
        throw new IllegalArgumentException("must be host:port (e.g. collector.example.com:50051,"
            + " or https://... for TLS), got '" + s + "'");
      }
      host = rest.substring(0, colon);
      portText = rest.substring(colon + 1);
    }
    if (host.isBlank() || host.chars().anyMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c))) {
      throw new IllegalArgumentException("has an invalid host in '" + s + "'");
    }
    int port;
    try {
      port = Integer.parseInt(portText);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("has an invalid port in '" + s + "'");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port must be between 1 and 65535, got '" + s + "'");
    }
    return new ServerAddress(host, port, tls);
  }

  /** {@code host:port}, IPv6 in brackets, without scheme. */
  public String authority() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  @Override
  public String toString() {
    return (tls ? TLS_SCHEME : "") + authority();
  }
}
