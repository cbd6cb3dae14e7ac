package dev.rlog.e2e;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * End-to-end throughput of agent + collector as users run them: a log of N lines of about B
 * bytes is written first, then the agent starts; the clock runs from agent start until the
 * collector's store holds every line. Prints lines/s, agent CPU seconds and peak RSS, and the
 * agent's CPU while idle afterwards. Medians of several runs. Not a test.
 */
@Command(name = "agent-benchmark", mixinStandardHelpOptions = true,
    description = "Agent + collector end to end: lines/s, agent CPU and peak RSS.")
public final class AgentBenchmark implements Callable<Integer> {
  @Option(names = "--runs", defaultValue = "3") int runs;
  @Option(names = "--lines", defaultValue = "2000000") int lines;
  @Option(names = "--line-bytes", defaultValue = "200") int lineBytes;
  @Option(names = "--idle-seconds", defaultValue = "10") int idleSeconds;
  @Option(names = "--quiet-files", defaultValue = "0",
      description = "also this many one-line files under the same source (*.log), which stay "
          + "quiet: the idle CPU figure then shows the cost of watching them")
  int quietFiles;

  record Result(double seconds, double agentCpu, long agentPeakRssKiB, double collectorCpu,
      double idleCpuPercent) {
    double linesPerSec(int lines) {
      return lines / seconds;
    }
  }

  @Override
  public Integer call() throws Exception {
    System.out.printf(Locale.ROOT, "machine: %d cores, java %s; %,d lines of %d bytes, %d quiet"
            + " files%n", Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"), lines, lineBytes, quietFiles);
    List<Result> results = new ArrayList<>();
    for (int r = 0; r < runs; r++) {
      Result res = runOnce();
      results.add(res);
      System.out.printf(Locale.ROOT, "run %d: %7.2f s %,10.0f lines/s  agent CPU %6.2f s"
              + "  agent peak RSS %4d MiB  collector CPU %6.2f s  agent idle CPU %.2f %%%n",
          r + 1, res.seconds, res.linesPerSec(lines), res.agentCpu, res.agentPeakRssKiB / 1024,
          res.collectorCpu, res.idleCpuPercent);
    }
    results.sort(Comparator.comparingDouble(Result::seconds));
    Result m = results.get(results.size() / 2);
    System.out.printf(Locale.ROOT, "%nMEDIAN %,.0f lines/s (%.2f s), agent CPU %.2f s, agent peak"
            + " RSS max %d MiB, agent idle CPU %.2f %% of a core%n", m.linesPerSec(lines),
        m.seconds, m.agentCpu,
        results.stream().mapToLong(Result::agentPeakRssKiB).max().orElse(-1) / 1024,
        m.idleCpuPercent);
    return 0;
  }

  private Result runOnce() throws Exception {
    Path dir = Files.createTempDirectory("rlog-agent-bench-");
    try {
      Path colDir = Files.createDirectories(dir.resolve("collector"));
      Path agentDir = Files.createDirectories(dir.resolve("agent"));
      Path log = Files.createDirectories(dir.resolve("logs")).resolve("app.log");
      writeLog(log);
      for (int q = 0; q < quietFiles; q++) {
        Files.writeString(log.resolveSibling(String.format(Locale.ROOT, "quiet-%04d.log", q)),
            "2026-11-21T22:01:27.000Z INFO started\n");
      }
      String source = quietFiles > 0 ? log.resolveSibling("*.log").toString() : log.toString();
      CollectorProcess.writeConfig(colDir, "");
      String key = CollectorProcess.runCommand(colDir, "project", "create", "bench",
          "--source", "app=" + source, "--flush-interval", "1").trim();
      try (CollectorProcess c = CollectorProcess.start(colDir, List.of())) {
        double colCpu0 = c.cpuSeconds();
        long t0 = System.nanoTime();
        try (AgentProcess a = AgentProcess.start(agentDir,
            Map.of("SERVER_ADDR", "127.0.0.1:" + c.grpcPort(), "PROJECT_KEY", key), List.of())) {
          while (c.metric("rlog_store_records_total") < (long) lines + quietFiles) {
            if (!a.process().isAlive()) {
              throw new IllegalStateException("agent died: " + a.output());
            }
            a.process().waitFor(5, TimeUnit.MILLISECONDS);
          }
          double secs = (System.nanoTime() - t0) / 1e9;
          double agentCpu = a.cpuSeconds();
          long rss = a.peakRssKiB();
          double colCpu = c.cpuSeconds() - colCpu0;
          // idle: nothing more to read; how much CPU does the agent burn?
          double idle0 = a.cpuSeconds();
          long i0 = System.nanoTime();
          a.process().waitFor(idleSeconds, TimeUnit.SECONDS);
          double idleSecs = (System.nanoTime() - i0) / 1e9;
          double idlePct = (a.cpuSeconds() - idle0) / idleSecs * 100;
          if (a.stop(Duration.ofSeconds(30)) != 0) {
            throw new IllegalStateException("agent did not exit 0");
          }
          return new Result(secs, agentCpu, rss, colCpu, idlePct);
        }
      }
    } finally {
      try (Stream<Path> s = Files.walk(dir)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private void writeLog(Path log) throws Exception {
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(log), 1 << 20)) {
      String pad = "x".repeat(Math.max(0, lineBytes - 60));
      for (int i = 0; i < lines; i++) {
        out.write(String.format(Locale.ROOT,
            "2026-11-21T22:01:27.%03dZ INFO req=%09d GET /api/items %s%n", i % 1000, i, pad)
            .getBytes(StandardCharsets.UTF_8));
      }
    }
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new AgentBenchmark()).execute(args));
  }
}
