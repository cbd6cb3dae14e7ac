package dev.rlog.agent.auth;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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

  /** Where Linux distributions describe themselves (os-release(5)), in the order to try. */
  private static final List<Path> OS_RELEASE =
      List.of(Path.of("/etc/os-release"), Path.of("/usr/lib/os-release"));

  /**
   * Reads hostname, OS family and version: on Linux from os-release(5) ({@code NAME},
   * {@code VERSION_ID}) and {@code /proc/sys/kernel/hostname}, elsewhere (or where those are
   * missing) from OSHI; falls back to the JVM's view ({@code os.name}, {@code os.version},
   * {@link InetAddress}) where neither answers.
   *
   * <p>OSHI alone took 0.55-0.6 s here (it loads JNA and ~440 classes) on every agent start, on
   * the way to the first line; the files are what it reads on Linux anyway.
   */
  public static HostInfo detect() {
    String hostname = readFirstLine(Path.of("/proc/sys/kernel/hostname"));
    String os = null;
    String version = null;
    for (Path p : OS_RELEASE) {
      Map<String, String> release = readOsRelease(p);
      if (!release.isEmpty()) {
        os = release.get("NAME");
        version = release.getOrDefault("VERSION_ID", release.get("VERSION"));
        break;
      }
    }
    if (blank(os) || blank(version) || blank(hostname)) {
      try {
        OperatingSystem system = new SystemInfo().getOperatingSystem();
        os = blank(os) ? system.getFamily() : os;
        version = blank(version) ? system.getVersionInfo().getVersion() : version;
        hostname = blank(hostname) ? system.getNetworkParams().getHostName() : hostname;
      } catch (RuntimeException | LinkageError e) {
        log.debug("OSHI cannot describe this host, using JVM properties: {}", e.toString());
      }
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

  /**
   * The variables of an os-release(5) file: {@code KEY=value} lines, the value optionally in
   * double or single quotes (backslash escapes inside double quotes); comments and blank lines
   * skipped. Empty if the file cannot be read.
   */
  static Map<String, String> readOsRelease(Path file) {
    try {
      return parseOsRelease(Files.readString(file));
    } catch (IOException | RuntimeException e) {
      return Map.of();
    }
  }

  static Map<String, String> parseOsRelease(String text) {
    Map<String, String> out = new HashMap<>();
    for (String line : text.split("\n")) {
      String l = line.strip();
      int eq = l.indexOf('=');
      if (l.isEmpty() || l.startsWith("#") || eq <= 0) {
        continue;
      }
      String v = l.substring(eq + 1).strip();
      if (v.length() >= 2 && (v.charAt(0) == '"' || v.charAt(0) == '\'')
          && v.charAt(v.length() - 1) == v.charAt(0)) {
        boolean dq = v.charAt(0) == '"';
        v = v.substring(1, v.length() - 1);
        if (dq) {
          v = v.replaceAll("\\\\(.)", "$1");
        }
      }
      out.put(l.substring(0, eq).strip(), v);
    }
    return out;
  }

  private static String readFirstLine(Path file) {
    try {
      String s = Files.readString(file).strip();
      int nl = s.indexOf('\n');
      return nl < 0 ? s : s.substring(0, nl);
    } catch (IOException | RuntimeException e) {
      return null;
    }
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
