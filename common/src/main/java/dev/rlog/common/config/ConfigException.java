package dev.rlog.common.config;

import java.nio.file.Path;

/** A configuration problem, always naming the file and the key. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String file;
  private final String key;

  public ConfigException(Path file, String key, String problem) {
    super(file + ": " + (key == null || key.isEmpty() ? "" : "key '" + key + "': ") + problem);
    this.file = String.valueOf(file);
    this.key = key;
  }

  public String file() {
    return file;
  }

  public String key() {
    return key;
  }
}
