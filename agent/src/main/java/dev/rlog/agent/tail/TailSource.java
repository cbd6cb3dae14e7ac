package dev.rlog.agent.tail;

import java.nio.file.FileSystems;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;

/**
 * One configured source: a label and a path whose file name may be a glob
 * ({@code /var/log/app/*.log}, {@code /var/log/app.log*}). The directory part must be literal:
 * one directory is watched per source. Immutable; any thread.
 */
public record TailSource(String label, String path) {
  public TailSource {
    if (label == null || label.isBlank()) {
      throw new IllegalArgumentException("source label must be non-empty (path " + path + ")");
    }
    if (path == null || path.isBlank()) {
      throw new IllegalArgumentException("source " + label + ": path must be non-empty");
    }
    Path p;
    try {
      p = Path.of(path);
    } catch (InvalidPathException e) {
      throw new IllegalArgumentException("source " + label + ": invalid path " + path, e);
    }
    if (p.getFileName() == null) {
      throw new IllegalArgumentException("source " + label + ": path names no file: " + path);
    }
    Path parent = p.toAbsolutePath().getParent();
    if (parent != null && hasGlob(parent.toString())) {
      throw new IllegalArgumentException("source " + label
          + ": wildcards are only supported in the file name, not in directories: " + path);
    }
  }

  /** The directory that is listed and watched. */
  public Path directory() {
    return Path.of(path).toAbsolutePath().getParent();
  }

  /** The file-name glob. */
  public String fileGlob() {
    return Path.of(path).getFileName().toString();
  }

  /** Matches file names (not whole paths) against {@link #fileGlob()}. */
  public PathMatcher fileNameMatcher() {
    return FileSystems.getDefault().getPathMatcher("glob:" + fileGlob());
  }

  private static boolean hasGlob(String s) {
    return s.indexOf('*') >= 0 || s.indexOf('?') >= 0 || s.indexOf('[') >= 0
        || s.indexOf('{') >= 0;
  }
}
