package dev.rlog.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The built collector ({@code collector-server/target/rlog-collector.jar}) run as a separate
 * process in its own working directory, on loopback ports it picks itself (port 0) and reports
 * through its ready file. {@link #close()} always ends the process (SIGTERM, then SIGKILL).
 */
public final class CollectorProcess extends ChildProcess {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path workDir;
  private final JsonNode ready;
  private final HttpClient http = HttpClient.newHttpClient();

  private CollectorProcess(Path workDir, Process process, JsonNode ready) {
    super(process);
    this.workDir = workDir;
    this.ready = ready;
  }

  /** A loopback port free right now (for a collector that must come back on the same port). */
  public static int freePort() throws IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1,
        java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /**
   * Every complete record in the store under {@code dataDir}, in write order (a line still being
   * written is left out; any complete line that is not valid JSON throws).
   */
  public static List<JsonNode> records(Path dataDir) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    forEachRecord(dataDir, out::add);
    return out;
  }

  /**
   * Like {@link #records} without holding them all: each complete record is handed to {@code
   * each} in write order (for stores too large to keep as trees).
   */
  public static void forEachRecord(Path dataDir, java.util.function.Consumer<JsonNode> each)
      throws IOException {
    if (!Files.isDirectory(dataDir)) {
      return;
    }
    List<Path> segs;
    try (java.util.stream.Stream<Path> s = Files.list(dataDir)) {
      segs = s.filter(p -> p.toString().endsWith(".jsonl")).sorted().toList();
    }
    for (Path seg : segs) {
      byte[] bytes = Files.readAllBytes(seg);
      int start = 0;
      // Only whole lines: a running collector may be in the middle of writing the last one.
      for (int i = 0; i < bytes.length; i++) {
        if (bytes[i] == '\n') {
          each.accept(JSON.readTree(new String(bytes, start, i - start, StandardCharsets.UTF_8)));
          start = i + 1;
        }
      }
    }
  }

  /** The collector jar of this checkout. */
  public static Path jar() {
    Path p = Path.of(System.getProperty("rlog.collector.jar",
        "collector-server/target/rlog-collector.jar"));
    if (!Files.exists(p)) {
      Path up = Path.of("..").resolve(p);
      if (Files.exists(up)) {
        return up.toAbsolutePath().normalize();
      }
      throw new IllegalStateException(p.toAbsolutePath()
          + " not found: build it first with ./mvnw -DskipTests package");
    }
    return p.toAbsolutePath();
  }

  /** Writes a loopback config with port 0 everywhere plus {@code extraYaml}. */
  public static Path writeConfig(Path workDir, String extraYaml) throws IOException {
    Files.createDirectories(workDir.resolve("config"));
    Path cfg = workDir.resolve("config/collector.yaml");
    String yaml = String.join("\n",
        extraYaml.contains("grpc:") ? "" : "grpc: {host: 127.0.0.1, port: 0}",
        "metrics: {host: 127.0.0.1, port: 0}",
        extraYaml.contains("tcp:") ? "" : "tcp: {host: 127.0.0.1, port: 0}",
        extraYaml, "");
    Files.writeString(cfg, yaml);
    return cfg;
  }

  /** Runs {@code rlog-collector ARGS} to completion in {@code workDir}; returns its stdout. */
  public static String runCommand(Path workDir, String... args) throws IOException,
      InterruptedException {
    List<String> cmd = javaCommand(List.of());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(workDir.toFile())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try (InputStream in = p.getInputStream()) {
      String out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        throw new IOException("rlog-collector " + String.join(" ", args) + " did not finish");
      }
      if (p.exitValue() != 0) {
        throw new IOException("rlog-collector " + String.join(" ", args) + " exited "
            + p.exitValue());
      }
      return out;
    } finally {
      p.destroyForcibly();
    }
  }

  /** Starts the collector in {@code workDir} (which holds config/collector.yaml). */
  public static CollectorProcess start(Path workDir, List<String> jvmOptions) throws Exception {
    Path readyFile = workDir.resolve("ready.json");
    Files.deleteIfExists(readyFile);
    List<String> cmd = javaCommand(jvmOptions);
    cmd.addAll(List.of("--ready-file", readyFile.toString()));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile());
    pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2"); // as bin/rlog-collector does
    Process p = pb
        .redirectErrorStream(true)
        // appended: a collector restarted in the same directory keeps the earlier runs' logs
        .redirectOutput(ProcessBuilder.Redirect.appendTo(workDir.resolve("collector.out").toFile()))
        .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!Files.exists(readyFile)) {
      if (!p.isAlive()) {
        throw new IOException("collector exited " + p.exitValue() + " before ready; see "
            + workDir.resolve("collector.out"));
      }
      if (System.nanoTime() > deadline) {
        p.destroyForcibly();
        throw new IOException("collector not ready within 60 s");
      }
      p.waitFor(20, TimeUnit.MILLISECONDS); // returns early if it exits
    }
    return new CollectorProcess(workDir, p, JSON.readTree(readyFile.toFile()));
  }

  /** The JVM options ops get from bin/rlog-collector: the same argfile. */
  public static Path jvmOptionsFile() {
    return jar().getParent().getParent().getParent().resolve("config/collector.jvm.options");
  }

  private static List<String> javaCommand(List<String> jvmOptions) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("@" + jvmOptionsFile());
    cmd.addAll(jvmOptions);
    cmd.add("-jar");
    cmd.add(jar().toString());
    return cmd;
  }

  public int grpcPort() {
    return ready.get("grpc_port").asInt();
  }

  public int tcpPort() {
    return ready.get("tcp_port").asInt();
  }

  public int metricsPort() {
    return ready.get("metrics_port").asInt();
  }

  public Path workDir() {
    return workDir;
  }

  /** Sum of all samples of a metric (any labels) from the Prometheus endpoint. */
  public double metric(String name) throws IOException, InterruptedException {
    HttpResponse<String> r = http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort() + "/metrics"))
            .timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
    double sum = 0;
    for (String line : r.body().split("\n")) {
      if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

}
