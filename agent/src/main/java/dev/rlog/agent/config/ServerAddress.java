package dev.rlog.agent.config;

/**
 * The collector's gRPC address, {@code host:port}; an IPv6 literal goes in brackets
 * ({@code [::1]:50051}). {@link #toString()} gives back that form, so it can be written to
 * {@code agent.yaml} and passed to {@code NettyChannelBuilder.forTarget}.
 */
public record ServerAddress(String host, int port) {

  public ServerAddress {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("host is empty");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port must be between 1 and 65535, got " + port);
    }
  }

  /**
   * Parses {@code host:port}.
   *
   * @throws IllegalArgumentException with a message fit to follow "key 'server_addr': "
   */
  public static ServerAddress parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("is empty; expected host:port");
    }
    String s = text.strip();
    if (s.contains("://")) {
      throw new IllegalArgumentException(
          "must be host:port without a scheme (e.g. collector.example.com:50051), got '" + s + "'");
    }
    String host;
    String portText;
    if (s.startsWith("[")) {
      int close = s.indexOf(']');
      if (close < 0 || close + 1 >= s.length() || s.charAt(close + 1) != ':') {
        throw new IllegalArgumentException("must be [ipv6]:port, got '" + s + "'");
      }
      host = s.substring(1, close);
      portText = s.substring(close + 2);
    } else {
      int colon = s.lastIndexOf(':');
      if (colon <= 0 || s.indexOf(':') != colon) {
        throw new IllegalArgumentException("must be host:port (e.g. collector.example.com:50051), got '"
            + s + "'");
      }
      host = s.substring(0, colon);
      portText = s.substring(colon + 1);
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
    return new ServerAddress(host, port);
  }

  @Override
  public String toString() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
