package dev.rlog.agent.auth;

import java.net.InetAddress;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import oshi.SystemInfo;
import oshi.software.os.OperatingSystem;

/**
 * What Register tells the collector about this host. Values are cleaned to what the collector
 * accepts (no control characters, at most {@value #MAX_HOSTNAME_CHARS} / {@value #MAX_OS_CHARS}
 * characters, hostname and os never empty) so a strange host cannot make registration fail.
 */
public record HostInfo(String hostname, String os, String osVersion) {
  public static final int MAX_HOSTNAME_CHARS = 255;
  public static final int MAX_OS_CHARS = 128;
  private static final String UNKNOWN = "unknown";
  private static final Logger log = LoggerFactory.getLogger(HostInfo.class);

  public HostInfo {
    hostname = clean(hostname, MAX_HOSTNAME_CHARS, UNKNOWN);
    os = clean(os, MAX_OS_CHARS, UNKNOWN);
    osVersion = clean(osVersion, MAX_OS_CHARS, "");
  }

  /**
   * Reads hostname, OS family and version from OSHI; falls back to the JVM's view
   * ({@code os.name}, {@code os.version}, {@link InetAddress}) where OSHI cannot answer, e.g. on a
   * platform it does not support.
   */
  public static HostInfo detect() {
    String hostname = null;
    String os = null;
    String version = null;
    try {
      OperatingSystem system = new SystemInfo().getOperatingSystem();
      os = system.getFamily();
      version = system.getVersionInfo().getVersion();
      hostname = system.getNetworkParams().getHostName();
    } catch (RuntimeException | LinkageError e) {
      log.debug("OSHI cannot describe this host, using JVM properties: {}", e.toString());
    }
    if (blank(os)) {
      os = System.getProperty("os.name");
    }
    if (blank(version)) {
      version = System.getProperty("os.version");
    }
    if (blank(hostname)) {
      hostname = jvmHostname();
    }
    return new HostInfo(hostname, os, version);
  }

  private static String jvmHostname() {
    String env = System.getenv("HOSTNAME");
    if (!blank(env)) {
      return env;
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      return UNKNOWN;
    }
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank() || s.toLowerCase(Locale.ROOT).equals(UNKNOWN);
  }

  private static String clean(String s, int maxChars, String fallback) {
    if (s == null) {
      return fallback;
    }
    StringBuilder b = new StringBuilder(Math.min(s.length(), maxChars));
    s.strip().codePoints()
        .filter(c -> !Character.isISOControl(c))
        .forEach(b::appendCodePoint);
    String out = b.toString();
    if (out.length() > maxChars) {
      out = out.substring(0, maxChars);
      if (Character.isHighSurrogate(out.charAt(maxChars - 1))) {
        out = out.substring(0, maxChars - 1);
      }
    }
    return out.isBlank() ? fallback : out;
  }
}
