package dev.rlog.e2e.chaos;

import java.nio.file.Path;
import java.util.Locale;

/** The path each chaos file's source is configured with in the project. */
public enum SourcePattern {
  /**
   * The file's own path ({@code /dir/app-0.log}): rotated names do not match, so the agent must
   * finish a rotated file by identity, not by pattern (DESIGN.md, "the source pattern chooses
   * which files are started, never which are finished").
   */
  PLAIN,
  /**
   * A glob that also matches the uncompressed rotated names but not {@code .gz}:
   * {@code /dir/{app-0.log,app-0.log*[!z]}}.
   */
  GLOB;

  /** The source path for the chaos file {@code file}. */
  public String sourcePath(Path file) {
    String name = file.getFileName().toString();
    return switch (this) {
      case PLAIN -> file.toString();
      case GLOB -> file.resolveSibling("{" + name + "," + name + "*[!z]}").toString();
    };
  }

  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
