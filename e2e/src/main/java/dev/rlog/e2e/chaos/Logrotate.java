package dev.rlog.e2e.chaos;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The real {@code logrotate} binary, run with a generated config, its own state file and
 * {@code -f} (rotate now, whatever the state file says). Its output is appended to one log file.
 * Not thread-safe: one owner thread.
 */
public final class Logrotate {
  /** Where the binary is looked for besides $PATH (Debian puts it in /usr/sbin). */
  private static final List<String> SBIN_DIRS = List.of("/usr/sbin", "/sbin", "/usr/local/sbin");

  private final Path binary;
  private final Path dir;
  private final Path ctlDir;
  private final Path stateFile;
  private final Path output;
  private int runs;

  /** Writes the helper scripts into {@code ctlDir}; configs and state go to {@code dir}. */
  public Logrotate(Path binary, Path dir, Path ctlDir) throws IOException {
    this.binary = binary;
    this.dir = Files.createDirectories(dir);
    this.ctlDir = Files.createDirectories(ctlDir);
    this.stateFile = dir.resolve("state");
    this.output = dir.resolve("logrotate.out");
    for (var e : LogrotateConfig.scripts(ctlDir).entrySet()) {
      Files.writeString(ctlDir.resolve(e.getKey()), e.getValue());
    }
  }

  /** The logrotate binary on $PATH or in an sbin directory, if installed. */
  public static Optional<Path> find() {
    List<String> dirs = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      dirs.addAll(List.of(path.split(File.pathSeparator)));
    }
    dirs.addAll(SBIN_DIRS);
    for (String d : dirs) {
      Path p = Path.of(d.isEmpty() ? "." : d, "logrotate");
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /** The binary, or an exception saying how to install it. */
  public static Path require() {
    return find().orElseThrow(() -> new IllegalStateException(
        "logrotate not found on $PATH or in " + SBIN_DIRS + ": the chaos run rotates with the "
            + "real binary; install it (Debian/Ubuntu: apt-get install -y logrotate)"));
  }

  /** Starts {@code logrotate -f} for the files with these modes; does not wait. */
  public Process start(List<Path> files, List<RotationMode> modes, int keep) throws IOException {
    Path config = dir.resolve("rotate-" + (runs++ % 2) + ".conf");
    Files.writeString(config, LogrotateConfig.config(files, modes, keep, ctlDir));
    return new ProcessBuilder(binary.toString(), "-f", "-s", stateFile.toString(),
        config.toString())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(output.toFile()))
        .start();
  }

  public Path output() {
    return output;
  }
}
