package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.PositionsFile;
import dev.rlog.common.config.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Keeps the committed positions in {@code <state>/positions} (format: {@link PositionsFile}).
 *
 * <p>{@link #save} never writes in place: temp file, {@code force(true)}, {@code ATOMIC_MOVE},
 * directory fsync ({@link AtomicFiles#write}), so after kill -9 or power loss the file holds
 * either the previous or the new positions. {@link #load} treats a missing file as "nothing
 * committed yet" and a corrupt one as an error that names the file and line: starting from
 * scratch on a damaged file would ship everything again.
 *
 * <p>Threading: stateless apart from the path; callers serialise saves (the tail thread).
 */
public final class OffsetStore {
  public static final String FILE_NAME = "positions";

  private final Path file;

  public OffsetStore(Path stateDir) {
    this.file = stateDir.resolve(FILE_NAME);
  }

  public Path file() {
    return file;
  }

  /**
   * @throws dev.rlog.agent.tail.PositionsFileException if the file exists but is not valid
   */
  public PositionsFile load() throws IOException {
    byte[] content;
    try {
      content = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return PositionsFile.empty();
    }
    return PositionsFile.parse(file.toString(), content);
  }

  public void save(PositionsFile positions) throws IOException {
    AtomicFiles.write(file, positions.render());
  }
}
