package dev.rlog.e2e;

import java.io.BufferedOutputStream;
import java.io.IOException;
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
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.DoubleStream;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * End-to-end throughput of agent + collector as users run them: a log of N lines of about B
 * bytes is written first, then the agent starts; the clock runs from agent start until the
 * collector's store holds every line. Prints lines/s, agent CPU seconds and peak RSS, and the
 * agent's CPU while idle afterwards. Medians of several runs. Not a test.
 *
 * <p>With a peer ({@link SyslogNgPeer}), each rlog run is followed by a syslog-ng run over the
 * same file (rlog, syslog-ng, rlog, syslog-ng...), so that both see the same machine load over
 * the session, and the summary sets the two side by side.
 */
@Command(name = "agent-benchmark", mixinStandardHelpOptions = true,
    description = "Agent + collector end to end: lines/s, agent CPU and peak RSS; optionally"
        + " against syslog-ng on the same log.")
public final class AgentBenchmark implements Callable<Integer> {
  private static final String FETCH_HINT = "get it with e2e/bench/fetch-peers.sh (apt-get"
      + " download + dpkg -x under e2e/target/peers, nothing installed)";

  @Option(names = "--runs", defaultValue = "3") int runs;
  @Option(names = "--lines", defaultValue = "2000000") int lines;
  @Option(names = "--line-bytes", defaultValue = "200") int lineBytes;
  @Option(names = "--idle-seconds", defaultValue = "10") int idleSeconds;
  @Option(names = "--quiet-files", defaultValue = "0",
      description = "also this many one-line files under the same source (*.log), which stay "
          + "quiet: the idle CPU figure then shows the cost of watching them")
  int quietFiles;
  @Option(names = "--peer", defaultValue = "auto",
      description = "syslog-ng: also run syslog-ng on the same log, alternating with rlog; "
          + "none: rlog only; auto (default): syslog-ng if it is found under --peer-root")
  String peer;
  @Option(names = "--peer-root",
      description = "the tree e2e/bench/fetch-peers.sh unpacked syslog-ng and socat into "
          + "(default: e2e/target/peers/root of this checkout)")
  Path peerRoot;
  @Option(names = "--syslog-ng-source-options", defaultValue = "",
      description = "extra options of syslog-ng's file() source, e.g. \"log-fetch-limit(1000)"
          + " log-iw-size(10000)\" (default: none, syslog-ng's defaults)")
  String syslogNgSourceOptions;
  @Option(names = "--steady-state",
      description = "instead: pairs of runs, --lines then 3 x --lines (rlog only), and the CPU"
          + " each side spends per extra line: the cost at steady state, without start-up,"
          + " registration and compilation")
  boolean steadyState;
  @Option(names = "--protocol", defaultValue = "ship",
      description = "the agent's protocol: ship (default) or send (RLOG_PROTOCOL at first start)")
  String protocol;
  @Spec CommandSpec spec;

  /** How often the collector's record count is read: each read costs the collector a little. */
  static final long POLL_MILLIS = 50;

  record Result(double seconds, double firstLineSeconds, double agentCpu, long agentPeakRssKiB,
      double collectorCpu, long collectorPeakRssKiB, double idleCpuPercent,
      double collectorJitCpu, double collectorScrapeCpu, Map<String, Double> collectorThreads) {
    double linesPerSec(int lines) {
      return lines / seconds;
    }

    double cpuMicrosPerLine(int lines) {
      return (agentCpu + collectorCpu) / lines * 1e6;
    }

    /** Collector CPU without its JIT threads and the benchmark's own /metrics polling. */
    double collectorWork() {
      return collectorCpu - collectorJitCpu - collectorScrapeCpu;
    }
  }

  @Override
  public Integer call() throws Exception {
    if (runs < 1 || lines < 1) {
      throw new ParameterException(spec.commandLine(), "--runs and --lines must be at least 1");
    }
    if (steadyState) {
      return steadyState();
    }
    SyslogNgPeer syslogNg = choosePeer();
    System.out.printf(Locale.ROOT, "machine: %d cores, java %s; %,d lines of %d bytes, %d quiet"
            + " files%n", Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"), lines, lineBytes, quietFiles);
    if (syslogNg != null && quietFiles > 0) {
      System.out.println("note: syslog-ng reads the log only, not the quiet files");
    }
    List<Result> results = new ArrayList<>();
    List<SyslogNgPeer.Result> peerResults = new ArrayList<>();
    // One log for every run of both: the same bytes, equally warm in the page cache.
    Path dir = Files.createTempDirectory("rlog-agent-bench-");
    try {
      Path log = Files.createDirectories(dir.resolve("logs")).resolve("app.log");
      writeLog(log, lines);
      for (int r = 0; r < runs; r++) {
        Result res = runCleaned(log, dir.resolve("rlog-" + (r + 1)), lines);
        results.add(res);
        System.out.printf(Locale.ROOT, "run %d rlog:      %7.2f s %,10.0f lines/s  agent CPU"
                + " %6.2f s  agent peak RSS %4d MiB  collector CPU %6.2f s  agent idle CPU %.2f %%"
                + "  collector peak RSS %4d MiB  first line at %.2f s  CPU %.2f us/line"
                + " (collector JIT %.2f s, /metrics scrapes %.2f s)%n",
            r + 1, res.seconds, res.linesPerSec(lines), res.agentCpu, res.agentPeakRssKiB / 1024,
            res.collectorCpu, res.idleCpuPercent, res.collectorPeakRssKiB / 1024,
            res.firstLineSeconds, res.cpuMicrosPerLine(lines), res.collectorJitCpu,
            res.collectorScrapeCpu);
        if (syslogNg != null) {
          Path peerDir = dir.resolve("syslog-ng-" + (r + 1));
          SyslogNgPeer.Result p;
          try {
            p = syslogNg.run(log, lines, peerDir, idleSeconds);
          } finally {
            deleteTree(peerDir);
          }
          peerResults.add(p);
          System.out.printf(Locale.ROOT, "run %d syslog-ng: %7.2f s %,10.0f lines/s  syslog-ng CPU"
                  + " %6.2f s  syslog-ng peak RSS %4d MiB  sink CPU %6.2f s  syslog-ng idle CPU"
                  + " %.2f %%  sink peak RSS %4d MiB  first line at %.2f s  CPU %.2f us/line%n",
              r + 1, p.seconds(), p.linesPerSec(lines), p.syslogNgCpu(),
              p.syslogNgPeakRssKiB() / 1024, p.sinkCpu(), p.idleCpuPercent(),
              p.sinkPeakRssKiB() / 1024, p.firstLineSeconds(), p.cpuMicrosPerLine(lines));
        }
      }
    } finally {
      deleteTree(dir);
    }
    List<Result> byTime = new ArrayList<>(results);
    byTime.sort(Comparator.comparingDouble(Result::seconds));
    Result m = byTime.get(byTime.size() / 2);
    System.out.printf(Locale.ROOT, "%nMEDIAN %,.0f lines/s (%.2f s), agent CPU %.2f s, agent peak"
            + " RSS max %d MiB, agent idle CPU %.2f %% of a core%n", m.linesPerSec(lines),
        m.seconds, m.agentCpu,
        results.stream().mapToLong(Result::agentPeakRssKiB).max().orElse(-1) / 1024,
        m.idleCpuPercent);
    if (syslogNg != null) {
      printComparison(results, peerResults);
    }
    return 0;
  }

  /**
   * rlog against syslog-ng, each figure the median over the runs on its own (the mean of the
   * middle two for an even number of runs), peak RSS the maximum over the runs.
   */
  private void printComparison(List<Result> rlog, List<SyslogNgPeer.Result> peer) {
    double rlogRate = median(rlog.stream().mapToDouble(r -> r.linesPerSec(lines)));
    double peerRate = median(peer.stream().mapToDouble(p -> p.linesPerSec(lines)));
    double agentUs = median(rlog.stream().mapToDouble(r -> r.agentCpu / lines * 1e6));
    double collectorUs = median(rlog.stream().mapToDouble(r -> r.collectorCpu / lines * 1e6));
    double sngUs = median(peer.stream().mapToDouble(p -> p.syslogNgCpu() / lines * 1e6));
    double sinkUs = median(peer.stream().mapToDouble(p -> p.sinkCpu() / lines * 1e6));
    System.out.printf(Locale.ROOT, "%nrlog vs syslog-ng, medians of %d runs each (alternating):%n",
        rlog.size());
    System.out.printf(Locale.ROOT, "  lines/s         rlog %,10.0f   syslog-ng %,10.0f"
        + "   rlog/syslog-ng %.2f%n", rlogRate, peerRate, rlogRate / peerRate);
    // The same without the start: the agent is a JVM that registers before it reads, syslog-ng
    // is not, and on a short log that start is much of the time.
    double rlogFromFirst = median(rlog.stream()
        .mapToDouble(r -> lines / (r.seconds - r.firstLineSeconds)));
    double peerFromFirst = median(peer.stream()
        .mapToDouble(p -> lines / (p.seconds() - p.firstLineSeconds())));
    System.out.printf(Locale.ROOT, "  after 1st line  rlog %,10.0f   syslog-ng %,10.0f"
            + "   rlog/syslog-ng %.2f   (first line at %.2f s vs %.2f s)%n",
        rlogFromFirst, peerFromFirst, rlogFromFirst / peerFromFirst,
        median(rlog.stream().mapToDouble(Result::firstLineSeconds)),
        median(peer.stream().mapToDouble(SyslogNgPeer.Result::firstLineSeconds)));
    System.out.printf(Locale.ROOT, "  CPU per line    rlog %6.2f us (agent %.2f + collector %.2f)"
            + "   syslog-ng %6.2f us (syslog-ng %.2f + sink %.2f)%n",
        median(rlog.stream().mapToDouble(r -> r.cpuMicrosPerLine(lines))), agentUs, collectorUs,
        median(peer.stream().mapToDouble(p -> p.cpuMicrosPerLine(lines))), sngUs, sinkUs);
    // A collector runs for days: the JIT compiles its hot path once, in its first minute. The
    // agent's figure keeps its start (JVM, registration, JIT) since an agent restarts more often.
    // The benchmark's own polling of /metrics (every 50 ms) is not the collector's work either.
    double collectorSteadyUs = median(rlog.stream()
        .mapToDouble(r -> r.collectorWork() / lines * 1e6));
    System.out.printf(Locale.ROOT, "  collector CPU per line without its JIT compiler threads"
        + " and this benchmark's /metrics polling %.2f us (agent + that: %.2f us)%n",
        collectorSteadyUs, agentUs + collectorSteadyUs);
    System.out.printf(Locale.ROOT, "  peak RSS (max)  rlog agent %d MiB + collector %d MiB"
            + "   syslog-ng %d MiB + sink %d MiB%n",
        rlog.stream().mapToLong(Result::agentPeakRssKiB).max().orElse(-1) / 1024,
        rlog.stream().mapToLong(Result::collectorPeakRssKiB).max().orElse(-1) / 1024,
        peer.stream().mapToLong(SyslogNgPeer.Result::syslogNgPeakRssKiB).max().orElse(-1) / 1024,
        peer.stream().mapToLong(SyslogNgPeer.Result::sinkPeakRssKiB).max().orElse(-1) / 1024);
    System.out.printf(Locale.ROOT, "  idle CPU        rlog agent %.2f %%   syslog-ng %.2f %%"
            + " of a core%n",
        median(rlog.stream().mapToDouble(Result::idleCpuPercent)),
        median(peer.stream().mapToDouble(SyslogNgPeer.Result::idleCpuPercent)));
  }

  static double median(DoubleStream values) {
    double[] v = values.sorted().toArray();
    int n = v.length;
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  /** The peer to run, or null; fails on --peer syslog-ng without one, says how to get it. */
  private SyslogNgPeer choosePeer() throws Exception {
    if (peer.equals("none")) {
      return null;
    }
    if (!peer.equals("auto") && !peer.equals("syslog-ng")) {
      throw new ParameterException(spec.commandLine(),
          "--peer must be auto, syslog-ng or none, not " + peer);
    }
    // absolute: the peer's programs are started from each run's own directory
    Path root = peerRoot != null ? peerRoot.toAbsolutePath()
        : CollectorProcess.jar().getParent().getParent().getParent()
            .resolve(SyslogNgPeer.DEFAULT_ROOT);
    try {
      SyslogNgPeer found = SyslogNgPeer.find(root, syslogNgSourceOptions);
      System.out.printf(Locale.ROOT, "peer: syslog-ng %s from %s%s%n", found.version(), root,
          syslogNgSourceOptions.isBlank() ? "" : ", file() source with " + syslogNgSourceOptions);
      return found;
    } catch (SyslogNgPeer.NotFound e) {
      String how = FETCH_HINT + (peerRoot != null ? "; with this --peer-root: "
          + "e2e/bench/fetch-peers.sh " + peerRoot : "");
      if (peer.equals("auto")) {
        System.out.printf(Locale.ROOT, "peer: none (%s); to compare with syslog-ng, %s%n",
            e.getMessage(), how);
        return null;
      }
      throw new ParameterException(spec.commandLine(),
          "--peer syslog-ng: " + e.getMessage() + "; " + how);
    }
  }

  /**
   * Runs of {@code lines} and of {@code 3 x lines} in pairs (short, long, short, long...): the
   * difference of each pair's CPU over the difference of lines is what a line costs once the
   * processes are started, registered and compiled. The collector's figure leaves out its JIT
   * threads and this benchmark's polling of /metrics, as in the summary of a normal run.
   */
  private int steadyState() throws Exception {
    int longLines = Math.multiplyExact(lines, 3);
    System.out.printf(Locale.ROOT, "machine: %d cores, java %s; steady state: pairs of %,d and"
            + " %,d lines of %d bytes, %d quiet files%n",
        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), lines,
        longLines, lineBytes, quietFiles);
    List<Double> agentUs = new ArrayList<>();
    List<Double> collectorUs = new ArrayList<>();
    Path dir = Files.createTempDirectory("rlog-agent-bench-");
    try {
      Path shortLog = Files.createDirectories(dir.resolve("short")).resolve("app.log");
      Path longLog = Files.createDirectories(dir.resolve("long")).resolve("app.log");
      writeLog(shortLog, lines);
      writeLog(longLog, longLines);
      for (int r = 0; r < runs; r++) {
        Result a = runCleaned(shortLog, dir.resolve("short-" + (r + 1)), lines);
        Result b = runCleaned(longLog, dir.resolve("long-" + (r + 1)), longLines);
        double extra = longLines - lines;
        double agent = (b.agentCpu - a.agentCpu) / extra * 1e6;
        double collector = (b.collectorWork() - a.collectorWork()) / extra * 1e6;
        agentUs.add(agent);
        collectorUs.add(collector);
        System.out.printf(Locale.ROOT, "pair %d: %,d lines %.2f s, %,d lines %.2f s; agent CPU"
                + " %.2f -> %.2f s, collector CPU without JIT and polling %.2f -> %.2f s; per"
                + " extra line: agent %.2f us, collector %.2f us%n",
            r + 1, lines, a.seconds, longLines, b.seconds, a.agentCpu, b.agentCpu,
            a.collectorWork(), b.collectorWork(), agent, collector);
        System.out.println("  collector threads, us per extra line: "
            + perExtraLine(a.collectorThreads(), b.collectorThreads(), extra));
      }
    } finally {
      deleteTree(dir);
    }
    System.out.printf(Locale.ROOT, "%nSTEADY STATE, median of %d pairs: agent %.2f us per line"
            + " (%.2f-%.2f), collector %.2f us per line (%.2f-%.2f)%n", runs,
        median(agentUs.stream().mapToDouble(Double::doubleValue)),
        agentUs.stream().mapToDouble(Double::doubleValue).min().orElse(-1),
        agentUs.stream().mapToDouble(Double::doubleValue).max().orElse(-1),
        median(collectorUs.stream().mapToDouble(Double::doubleValue)),
        collectorUs.stream().mapToDouble(Double::doubleValue).min().orElse(-1),
        collectorUs.stream().mapToDouble(Double::doubleValue).max().orElse(-1));
    return 0;
  }

  /** The threads that spent most of the difference, as "name us, name us, …". */
  private static String perExtraLine(Map<String, Double> a, Map<String, Double> b, double extra) {
    Map<String, Double> diff = new TreeMap<>(b);
    a.forEach((name, cpu) -> diff.merge(name, -cpu, Double::sum));
    return diff.entrySet().stream()
        .sorted(Map.Entry.<String, Double>comparingByValue().reversed())
        .filter(e -> e.getValue() / extra * 1e6 >= 0.005).limit(8)
        .map(e -> String.format(Locale.ROOT, "%s %.2f", e.getKey(), e.getValue() / extra * 1e6))
        .collect(java.util.stream.Collectors.joining(", "));
  }

  private Result runCleaned(Path log, Path runDir, int n) throws Exception {
    try {
      return runOnce(log, runDir, n);
    } finally {
      deleteTree(runDir);
    }
  }

  private Result runOnce(Path log, Path dir, int expected) throws Exception {
    Path colDir = Files.createDirectories(dir.resolve("collector"));
    Path agentDir = Files.createDirectories(dir.resolve("agent"));
    String source = quietFiles > 0 ? log.resolveSibling("*.log").toString() : log.toString();
    CollectorProcess.writeConfig(colDir, "");
    String key = CollectorProcess.runCommand(colDir, "project", "create", "bench",
        "--source", "app=" + source, "--flush-interval", "1").trim();
    try (CollectorProcess c = CollectorProcess.start(colDir, List.of())) {
      double colCpu0 = c.cpuSeconds();
      double colJit0 = c.jitCpuSeconds();
      double colScrape0 = c.metricsCpuSeconds();
      Map<String, Double> colThreads0 = c.threadCpuSeconds();
      long t0 = System.nanoTime();
      try (AgentProcess a = AgentProcess.start(agentDir,
          Map.of("SERVER_ADDR", "127.0.0.1:" + c.grpcPort(), "PROJECT_KEY", key,
              "RLOG_PROTOCOL", protocol), List.of())) {
        double firstLine = -1;
        double stored;
        while ((stored = c.metric("rlog_store_records_total")) < (long) expected + quietFiles) {
          if (firstLine < 0 && stored > 0) {
            firstLine = (System.nanoTime() - t0) / 1e9;
          }
          if (!a.process().isAlive()) {
            throw new IllegalStateException("agent died: " + a.output());
          }
          a.process().waitFor(POLL_MILLIS, TimeUnit.MILLISECONDS);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        if (firstLine < 0) {
          firstLine = secs; // every line arrived between two polls
        }
        double agentCpu = a.cpuSeconds();
        long rss = a.peakRssKiB();
        double colCpu = c.cpuSeconds() - colCpu0;
        double colJit = c.jitCpuSeconds() - colJit0;
        double colScrape = c.metricsCpuSeconds() - colScrape0;
        Map<String, Double> colThreads = new TreeMap<>(c.threadCpuSeconds());
        colThreads0.forEach((name, cpu) -> colThreads.merge(name, -cpu, Double::sum));
        long colRss = c.peakRssKiB();
        // idle: nothing more to read; how much CPU does the agent burn?
        double idle0 = a.cpuSeconds();
        long i0 = System.nanoTime();
        a.process().waitFor(idleSeconds, TimeUnit.SECONDS);
        double idleSecs = (System.nanoTime() - i0) / 1e9;
        double idlePct = (a.cpuSeconds() - idle0) / idleSecs * 100;
        if (a.stop(Duration.ofSeconds(30)) != 0) {
          throw new IllegalStateException("agent did not exit 0");
        }
        return new Result(secs, firstLine, agentCpu, rss, colCpu, colRss, idlePct, colJit,
            colScrape, colThreads);
      }
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** The log, {@code count} lines, and --quiet-files one-line files beside it. */
  private void writeLog(Path log, int count) throws Exception {
    for (int q = 0; q < quietFiles; q++) {
      Files.writeString(log.resolveSibling(String.format(Locale.ROOT, "quiet-%04d.log", q)),
          "2026-11-21T22:01:27.000Z INFO started\n");
    }
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(log), 1 << 20)) {
      String pad = "x".repeat(Math.max(0, lineBytes - 60));
      for (int i = 0; i < count; i++) {
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
