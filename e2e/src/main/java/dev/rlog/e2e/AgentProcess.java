package dev.rlog.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The built agent ({@code agent/target/rlog-agent.jar}) as a separate process in its own working
 * directory (which holds its {@code config/} and {@code state/}), with the JVM options ops get
 * from {@code bin/rlog-agent}. {@link #close()} always ends it (SIGTERM, then SIGKILL).
 */
public final class AgentProcess extends ChildProcess {
  private final Path workDir;

  private AgentProcess(Path workDir, Process process) {
    super(process);
    this.workDir = workDir;
  }

  public static Path jar() {
    Path collector = CollectorProcess.jar();
    Path p = collector.getParent().getParent().getParent().resolve("agent/target/rlog-agent.jar");
    if (!Files.exists(p)) {
      throw new IllegalStateException(p + " not found: build it first with ./mvnw -DskipTests package");
    }
    return p;
  }

  public static Path jvmOptionsFile() {
    return jar().getParent().getParent().getParent().resolve("config/agent.jvm.options");
  }

  /** Starts the agent in {@code workDir} with extra environment (SERVER_ADDR, PROJECT_KEY...). */
  public static AgentProcess start(Path workDir, Map<String, String> env, List<String> args)
      throws IOException {
    Files.createDirectories(workDir);
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("@" + jvmOptionsFile());
    cmd.add("-jar");
    cmd.add(jar().toString());
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(workDir.resolve("agent.out").toFile()));
    pb.environment().remove("SERVER_ADDR");
    pb.environment().remove("PROJECT_KEY");
    pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2");
    pb.environment().putAll(env);
    return new AgentProcess(workDir, pb.start());
  }

  public String output() throws IOException {
    Path out = workDir.resolve("agent.out");
    return Files.exists(out) ? Files.readString(out) : "";
  }

}
