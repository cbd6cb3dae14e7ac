package dev.rlog.common.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * A validated view of one YAML mapping. Every getter names the file and the dotted key in its
 * error; {@link #rejectUnknownKeys()} turns a misspelt key into an error instead of a silently
 * ignored setting. Not thread-safe; load, read, discard.
 */
public final class YamlConfig {
  private static final Pattern SIZE = Pattern.compile("(?i)\\s*(\\d+)\\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\\s*");
  private static final Pattern DURATION = Pattern.compile("(?i)\\s*(\\d+)\\s*(ms|s|m|h|d)?\\s*");

  private final Path file;
  private final String prefix;
  private final Map<String, Object> map;
  private final Set<String> read = new LinkedHashSet<>();
  private final List<YamlConfig> children = new ArrayList<>();

  private YamlConfig(Path file, String prefix, Map<String, Object> map) {
    this.file = file;
    this.prefix = prefix;
    this.map = map;
  }

  /** Loads {@code file}; an empty file is an empty mapping. */
  public static YamlConfig load(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ConfigException(file, null, "file not found");
    } catch (IOException e) {
      throw new ConfigException(file, null, "cannot read: " + e.getMessage());
    }
    return parse(file, text);
  }

  /** Parses YAML text that claims to come from {@code file} (used in messages only). */
  public static YamlConfig parse(Path file, String text) {
    Object root;
    try {
      root = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
    } catch (MarkedYAMLException e) {
      // Only the problem and the position: the message's snippet of the offending line could
      // show a secret (a project key) in logs.
      Mark m = e.getProblemMark();
      throw new ConfigException(file, null, "not valid YAML" + (m == null ? "" : " at line "
          + (m.getLine() + 1) + ", column " + (m.getColumn() + 1)) + ": " + e.getProblem());
    } catch (YAMLException e) {
      throw new ConfigException(file, null, "not valid YAML");
    }
    if (root == null) {
      return new YamlConfig(file, "", new LinkedHashMap<>());
    }
    if (!(root instanceof Map)) {
      throw new ConfigException(file, null, "the top level must be a mapping of keys to values");
    }
    return new YamlConfig(file, "", asStringMap(file, "", root));
  }

  /** Parses YAML from a reader; convenience for tests. */
  public static YamlConfig parse(Path file, Reader reader) throws IOException {
    StringBuilder sb = new StringBuilder();
    char[] buf = new char[4096];
    for (int n; (n = reader.read(buf)) > 0; ) {
      sb.append(buf, 0, n);
    }
    return parse(file, sb.toString());
  }

  public Path file() {
    return file;
  }

  public boolean has(String key) {
    return map.containsKey(key) && map.get(key) != null;
  }

  /** True when {@code key} is written in the file, even with an empty value ({@code key:}). */
  public boolean isWritten(String key) {
    return map.containsKey(key);
  }

  public String key(String key) {
    return prefix + key;
  }

  public ConfigException error(String key, String problem) {
    return new ConfigException(file, key(key), problem);
  }

  public String string(String key, String def) {
    Object v = raw(key);
    if (v == null) {
      return def;
    }
    if (v instanceof Map || v instanceof List) {
      throw error(key, "must be a string");
    }
    return v.toString();
  }

  public String requiredString(String key) {
    String v = string(key, null);
    if (v == null || v.isBlank()) {
      throw error(key, "is required");
    }
    return v;
  }

  public long longValue(String key, long def, long min, long max) {
    Object v = raw(key);
    if (v == null) {
      return def;
    }
    long n;
    if (v instanceof Integer || v instanceof Long) {
      n = ((Number) v).longValue();
    } else {
      try {
        n = Long.parseLong(v.toString().trim());
      } catch (NumberFormatException e) {
        throw error(key, "must be a whole number, got '" + v + "'");
      }
    }
    return checkRange(key, n, min, max);
  }

  public int intValue(String key, int def, int min, int max) {
    return (int) longValue(key, def, min, max);
  }

  public boolean bool(String key, boolean def) {
    Object v = raw(key);
    if (v == null) {
      return def;
    }
    if (v instanceof Boolean) {
      return (Boolean) v;
    }
    throw error(key, "must be true or false, got '" + v + "'");
  }

  /** A byte size: a number of bytes, or a number with a unit (KiB, MiB, GiB; k/m/g are binary). */
  public long bytes(String key, long def, long min, long max) {
    Object v = raw(key);
    if (v == null) {
      return def;
    }
    Matcher m = SIZE.matcher(v.toString());
    if (!m.matches()) {
      throw error(key, "must be a size such as 1048576, 64KiB, 128MiB or 1GiB, got '" + v + "'");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
    long mult = switch (unit.charAt(0)) {
      case 'k' -> 1024L;
      case 'm' -> 1024L * 1024;
      case 'g' -> 1024L * 1024 * 1024;
      default -> 1L;
    };
    if (n > Long.MAX_VALUE / mult) {
      throw error(key, "is too large");
    }
    return checkRange(key, n * mult, min, max);
  }

  /** A duration: a number of seconds, or a number with a unit (ms, s, m, h, d). */
  public Duration duration(String key, Duration def, Duration min, Duration max) {
    Object v = raw(key);
    if (v == null) {
      return def;
    }
    Matcher m = DURATION.matcher(v.toString());
    if (!m.matches()) {
      throw error(key, "must be a duration such as 30, 500ms, 10s, 15m, 1h or 7d, got '" + v + "'");
    }
    String unit = m.group(2) == null ? "s" : m.group(2).toLowerCase(Locale.ROOT);
    Duration d;
    try {
      long n = Long.parseLong(m.group(1));
      d = switch (unit) {
        case "ms" -> Duration.ofMillis(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        case "d" -> Duration.ofDays(n);
        default -> Duration.ofSeconds(n);
      };
    } catch (NumberFormatException | ArithmeticException e) {
      throw error(key, "is too large, got '" + v + "'");
    }
    if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
      throw error(key, "must be between " + min + " and " + max + ", got " + d);
    }
    return d;
  }

  /** One of {@code allowed}, compared case-insensitively; returns the lower-case form. */
  public String choice(String key, String def, String... allowed) {
    String v = string(key, def);
    for (String a : allowed) {
      if (a.equalsIgnoreCase(v)) {
        return a;
      }
    }
    throw error(key, "must be one of " + String.join(", ", allowed) + ", got '" + v + "'");
  }

  /** A nested mapping; absent means empty. */
  public YamlConfig section(String key) {
    Object v = raw(key);
    Map<String, Object> m = v == null ? new LinkedHashMap<>() : asStringMap(file, key(key), v);
    YamlConfig child = new YamlConfig(file, key(key) + ".", m);
    children.add(child);
    return child;
  }

  /** A list of scalars, as strings; absent means {@code def}. */
  public List<String> stringList(String key, List<String> def) {
    Object v = raw(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof List)) {
      throw error(key, "must be a list");
    }
    List<String> out = new ArrayList<>();
    List<?> list = (List<?>) v;
    for (int i = 0; i < list.size(); i++) {
      Object e = list.get(i);
      if (e == null || e instanceof Map || e instanceof List) {
        throw new ConfigException(file, key(key) + "[" + i + "]", "must be a string");
      }
      out.add(e.toString());
    }
    return Collections.unmodifiableList(out);
  }

  /** A list of mappings; absent means empty. */
  public List<YamlConfig> sectionList(String key) {
    Object v = raw(key);
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof List)) {
      throw error(key, "must be a list");
    }
    List<YamlConfig> out = new ArrayList<>();
    List<?> list = (List<?>) v;
    for (int i = 0; i < list.size(); i++) {
      String k = key(key) + "[" + i + "]";
      YamlConfig child = new YamlConfig(file, k + ".", asStringMap(file, k, list.get(i)));
      children.add(child);
      out.add(child);
    }
    return Collections.unmodifiableList(out);
  }

  /** Fails on the first key that no getter asked for, here or in any section taken from here. */
  public void rejectUnknownKeys() {
    for (String k : map.keySet()) {
      if (!read.contains(k)) {
        throw new ConfigException(file, key(k), "unknown key");
      }
    }
    for (YamlConfig c : children) {
      c.rejectUnknownKeys();
    }
  }

  private Object raw(String key) {
    read.add(key);
    return map.get(key);
  }

  private long checkRange(String key, long n, long min, long max) {
    if (n < min || n > max) {
      throw error(key, "must be between " + min + " and " + max + ", got " + n);
    }
    return n;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> asStringMap(Path file, String key, Object v) {
    if (!(v instanceof Map)) {
      throw new ConfigException(file, key, "must be a mapping of keys to values");
    }
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<Object, Object> e : ((Map<Object, Object>) v).entrySet()) {
      out.put(String.valueOf(e.getKey()), e.getValue());
    }
    return out;
  }
}
