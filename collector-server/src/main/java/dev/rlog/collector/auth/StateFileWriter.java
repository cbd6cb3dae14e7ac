package dev.rlog.collector.auth;

import dev.rlog.common.config.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Replaces a whole state file. The collector uses {@link #ATOMIC_SECRET} (temp file, fsync,
 * rename, mode 0600); tests inject one that fails, as a full disk would.
 */
@FunctionalInterface
public interface StateFileWriter {
  StateFileWriter ATOMIC_SECRET = AtomicFiles::writeSecret;

  /** Replaces {@code file} with {@code content}; on failure the old file is intact. */
  void write(Path file, byte[] content) throws IOException;
}
