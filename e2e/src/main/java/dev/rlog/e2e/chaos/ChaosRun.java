package dev.rlog.e2e.chaos;

import dev.rlog.e2e.AgentProcess;
import dev.rlog.e2e.CollectorProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One chaos run: a collector and an agent (the built jars, as processes, on loopback), K log
 * files written by {@link LogWriters} and rotated by the real logrotate, kill -9 of both and an
 * outage of the collector on the seeded {@link ChaosSchedule}; then every line is looked for in
 * the store ({@link StoreTally}).
 *
 * <p>The calling thread runs the schedule and, after writing, waits for the store by polling it:
 * until it holds every written line and has not grown for {@link #QUIET_WHEN_COMPLETE} (room
 * for late duplicates), or has not grown for the scenario's settle timeout, or the max wait
 * passed. Then the agent and the collector get SIGTERM (they flush and exit 0), and the store is
 * read once more, from scratch, for the verdict.
 *
 * <p>Every process is stopped on every path (finally, and a shutdown hook for Ctrl-C). The work
 * directory is deleted after a passing run unless {@code keep}; a failing one keeps it, with
 * {@code agent/agent.out}, {@code collector/collector.out} and {@code logrotate/logrotate.out}.
 */
public final class ChaosRun {
  private static final Logger log = LoggerFactory.getLogger(ChaosRun.class);
  static final Duration PROGRESS_EVERY = Duration.ofSeconds(5);
  static final Duration STORE_POLL = Duration.ofMillis(500);
  /** Once every line is stored, how long the store must stay unchanged (late duplicates). */
  static final Duration QUIET_WHEN_COMPLETE = Duration.ofSeconds(5);
  static final Duration STOP_BOUND = Duration.ofSeconds(60);
  static final String PROJECT = "chaos";

  private final ChaosScenario scenario;
  private Path work;
  private Path collectorDir;
  private Path agentDir;
  private int grpcPort;
  private String projectKey;
  private volatile CollectorProcess collector;
  private volatile AgentProcess agent;
  private boolean collectorWanted;
  private boolean agentWanted;
  private int agentKills;
  private int collectorKills;
  private int unexpectedExits;
  private long outageStartNanos;
  private Duration outage = Duration.ZERO;
  private long nextProgressNanos;
  private long t0 = System.nanoTime();
  private StoreScanner progressScanner;
  private StoreTally progressTally;

  public ChaosRun(ChaosScenario scenario) {
    this.scenario = scenario;
  }

  /** Runs the scenario; the report says whether it passed. */
  public ChaosReport run() throws Exception {
    Path logrotateBinary = Logrotate.require();
    ChaosSchedule schedule = ChaosSchedule.of(scenario);
    work = prepareWorkDir();
    log.info("seed {}; work dir {}; {} rotations and these events scheduled: {}",
        scenario.seed(), work, schedule.rotations().size(), schedule.events().stream()
            .map(e -> e.kind() + "@" + ChaosReport.seconds(e.at())).toList());
    Thread hook = new Thread(this::killAll, "chaos-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    LogWriters writers = null;
    Thread writerThread = null;
    boolean passed = false;
    try {
      collectorDir = Files.createDirectories(work.resolve("collector"));
      agentDir = Files.createDirectories(work.resolve("agent"));
      Path logs = Files.createDirectories(work.resolve("logs"));
      Path ctl = Files.createDirectories(work.resolve("ctl"));
      List<Path> files = new ArrayList<>();
      List<String> labels = new ArrayList<>();
      for (int f = 0; f < scenario.files(); f++) {
        files.add(logs.resolve("app-" + f + ".log"));
        labels.add("f" + f);
      }
      Logrotate logrotate = new Logrotate(logrotateBinary, work.resolve("logrotate"), ctl);
      writers = new LogWriters(scenario, files, schedule, logrotate, ctl);
      progressTally = new StoreTally(labels);
      progressScanner = new StoreScanner(collectorDir.resolve("data"), progressTally);

      grpcPort = CollectorProcess.freePort();
      CollectorProcess.writeConfig(collectorDir, "grpc: {host: 127.0.0.1, port: " + grpcPort + "}");
      startCollector();
      createProject(files, labels);
      startAgent();
      awaitRegistration();

      writers.markStart();
      t0 = writers.startNanos();
      FutureTask<Void> writing = new FutureTask<>(writers, null);
      writerThread = new Thread(writing, "chaos-writer");
      writerThread.start();
      nextProgressNanos = System.nanoTime();
      for (ChaosSchedule.Event e : schedule.events()) {
        long due = writers.startNanos() + e.at().toNanos();
        if (e.kind() == ChaosSchedule.Kind.OUTAGE_END && outageStartNanos != 0) {
          // the outage lasts its full length even if it began late (a slow restart before it)
          due = Math.max(due, outageStartNanos + scenario.outage().toNanos());
        }
        waitUntil(due, writers, writing);
        apply(e);
      }
      while (!writing.isDone()) {
        waitUntil(System.nanoTime() + STORE_POLL.toNanos(), writers, writing);
      }
      writing.get(); // a writer failure ends the run here
      long[] written = new long[scenario.files()];
      for (int f = 0; f < written.length; f++) {
        written[f] = writers.written(f);
      }
      log.info("writing done: {} lines in {}; restarting whatever is down",
          writers.totalWritten(), ChaosReport.seconds(sinceNanos(writers.startNanos())));
      outageEnds();
      ensureRunning();

      long settleStart = System.nanoTime();
      String settle = awaitStore(writers.totalWritten(), writers);
      Duration settleTime = sinceNanos(settleStart);
      log.info("store wait ended {} after {}; stopping agent and collector with SIGTERM", settle,
          ChaosReport.seconds(settleTime));
      agentWanted = false;
      int agentExit = agent.stop(STOP_BOUND);
      collectorWanted = false;
      int collectorExit = collector.stop(STOP_BOUND);

      StoreTally tally = new StoreTally(labels);
      StoreScanner scanner = new StoreScanner(collectorDir.resolve("data"), tally);
      scanner.poll();
      ChaosReport report = new ChaosReport(scenario, work, agentKills, collectorKills, outage,
          unexpectedExits, writers.stats(), settle, settleTime, agentExit, collectorExit,
          scanner.malformed(), tally.verdict(written));
      passed = report.passed();
      return report;
    } finally {
      if (writers != null) {
        writers.stop();
      }
      if (writerThread != null) {
        writerThread.join(TimeUnit.SECONDS.toMillis(60));
      }
      closeAll();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running or has run
      }
      if (passed && !scenario.keep()) {
        deleteTree(work);
      } else {
        log.info("work dir kept: {}", work);
      }
    }
  }

  private Path prepareWorkDir() throws IOException {
    if (scenario.workDir() == null) {
      return Files.createTempDirectory("rlog-chaos-");
    }
    Path w = scenario.workDir().toAbsolutePath();
    if (Files.isDirectory(w)) {
      try (Stream<Path> s = Files.list(w)) {
        if (s.findAny().isPresent()) {
          throw new IllegalArgumentException("--work-dir " + w + " must be empty or not exist");
        }
      }
    }
    return Files.createDirectories(w);
  }

  private void apply(ChaosSchedule.Event e) throws Exception {
    switch (e.kind()) {
      case AGENT_KILL -> {
        if (agent != null && agent.process().isAlive()) {
          agentWanted = false;
          agent.kill();
          agentKills++;
          log.info("t={} agent kill -9 ({} of {})", at(), agentKills, scenario.agentKills());
        }
      }
      case AGENT_START -> {
        if (agent == null || !agent.process().isAlive()) {
          startAgent();
        }
      }
      case COLLECTOR_KILL -> {
        if (collector != null && collector.process().isAlive()) {
          collectorWanted = false;
          collector.kill();
          collectorKills++;
          log.info("t={} collector kill -9 ({} of {})", at(), collectorKills,
              scenario.collectorKills());
        }
      }
      case COLLECTOR_START -> {
        if (outageStartNanos == 0 && (collector == null || !collector.process().isAlive())) {
          startCollector();
        }
      }
      case OUTAGE_START -> {
        outageStartNanos = System.nanoTime();
        collectorWanted = false;
        if (collector != null && collector.process().isAlive()) {
          collector.kill();
        }
        log.info("t={} outage: collector kill -9, away for {}", at(),
            ChaosReport.seconds(scenario.outage()));
      }
      case OUTAGE_END -> {
        outageEnds();
        ensureRunning();
      }
      default -> throw new IllegalStateException(e.kind().toString());
    }
  }

  private void outageEnds() {
    if (outageStartNanos != 0) {
      outage = sinceNanos(outageStartNanos);
      outageStartNanos = 0;
      log.info("t={} outage over after {}", at(), ChaosReport.seconds(outage));
    }
  }

  /** Parks until {@code deadline}, logging progress and watching for processes that died. */
  private void waitUntil(long deadline, LogWriters writers, FutureTask<Void> writing)
      throws Exception {
    while (true) {
      long now = System.nanoTime();
      if (writing.isDone() && !writing.isCancelled()) {
        try {
          writing.get();
        } catch (ExecutionException ex) {
          throw new IllegalStateException("the log writers failed", ex.getCause());
        }
      }
      if (now - nextProgressNanos >= 0) {
        progress(writers);
        superviseUnexpectedExits();
        nextProgressNanos = now + PROGRESS_EVERY.toNanos();
      }
      long wait = Math.min(deadline - now, nextProgressNanos - now);
      if (deadline - now <= 0) {
        return;
      }
      LockSupport.parkNanos(Math.max(wait, 0));
    }
  }

  /** Waits (polling the store) until it holds every line and is quiet, or gives up. */
  private String awaitStore(long expected, LogWriters writers) throws Exception {
    long start = System.nanoTime();
    long lastGrowth = start;
    long lastRecords = -1;
    while (true) {
      long now = System.nanoTime();
      progressScanner.poll();
      long records = progressTally.records();
      if (records != lastRecords) {
        lastRecords = records;
        lastGrowth = now;
      }
      long quiet = now - lastGrowth;
      if (progressTally.distinct() >= expected && quiet >= QUIET_WHEN_COMPLETE.toNanos()) {
        return "COMPLETE";
      }
      if (quiet >= scenario.settleTimeout().toNanos()) {
        return "STALLED";
      }
      if (now - start >= scenario.maxWait().toNanos()) {
        return "TIMED_OUT";
      }
      if (now - nextProgressNanos >= 0) {
        progress(writers);
        superviseUnexpectedExits();
        nextProgressNanos = now + PROGRESS_EVERY.toNanos();
      }
      LockSupport.parkNanos(STORE_POLL.toNanos());
    }
  }

  private void progress(LogWriters writers) throws IOException {
    progressScanner.poll();
    log.info("t={} written {}/{} stored {} records, {} distinct; agent {}, collector {}", at(),
        writers.totalWritten(), scenario.lines(), progressTally.records(),
        progressTally.distinct(), state(agent), outageStartNanos != 0 ? "away (outage)"
            : state(collector));
  }

  private static String state(AgentProcess a) {
    return a == null ? "not started" : a.process().isAlive() ? "up" : "down";
  }

  private static String state(CollectorProcess c) {
    return c == null ? "not started" : c.process().isAlive() ? "up" : "down";
  }

  /** A process we did not kill that is gone crashed by itself: say so, count it, restart it. */
  private void superviseUnexpectedExits() throws Exception {
    if (agentWanted && !agent.process().isAlive()) {
      unexpectedExits++;
      log.warn("t={} the agent exited by itself (code {}); restarting it; see {}", at(),
          agent.process().exitValue(), agentDir.resolve("agent.out"));
      startAgent();
    }
    if (collectorWanted && !collector.process().isAlive()) {
      unexpectedExits++;
      log.warn("t={} the collector exited by itself (code {}); restarting it; see {}", at(),
          collector.process().exitValue(), collectorDir.resolve("collector.out"));
      startCollector();
    }
  }

  private void ensureRunning() throws Exception {
    if (collector == null || !collector.process().isAlive()) {
      startCollector();
    }
    if (agent == null || !agent.process().isAlive()) {
      startAgent();
    }
  }

  private void startCollector() throws Exception {
    collector = CollectorProcess.start(collectorDir, List.of());
    collectorWanted = true;
  }

  private void startAgent() throws IOException {
    Map<String, String> env = new HashMap<>();
    if (!Files.exists(agentDir.resolve("config/agent.yaml"))) {
      env.put("SERVER_ADDR", "127.0.0.1:" + grpcPort);
      env.put("PROJECT_KEY", projectKey);
    }
    agent = AgentProcess.start(agentDir, env, List.of());
    agentWanted = true;
  }

  /**
   * Waits until the first agent has registered (it wrote its config): an agent that cannot reach
   * the collector at its very first start exits, by design, so no kill may come before this.
   */
  private void awaitRegistration() throws IOException {
    Path config = agentDir.resolve("config/agent.yaml");
    long deadline = System.nanoTime() + STOP_BOUND.toNanos();
    while (!Files.exists(config)) {
      if (!agent.process().isAlive() || System.nanoTime() - deadline > 0) {
        throw new IOException("the agent did not register within " + STOP_BOUND + "; see "
            + agentDir.resolve("agent.out"));
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
  }

  private void createProject(List<Path> files, List<String> labels) throws Exception {
    List<String> args = new ArrayList<>(List.of("project", "create", PROJECT,
        "--flush-interval", "1", "--batch-size", "1000"));
    for (int f = 0; f < files.size(); f++) {
      args.add("--source");
      args.add(labels.get(f) + "=" + scenario.pattern().sourcePath(files.get(f)));
    }
    log.info("project sources: {}", args.subList(7, args.size()));
    projectKey = CollectorProcess.runCommand(collectorDir, args.toArray(String[]::new)).trim();
  }

  private void closeAll() {
    for (AutoCloseable c : new AutoCloseable[] {agent, collector}) {
      if (c != null) {
        try {
          c.close();
        } catch (Exception e) {
          log.warn("stopping a process: {}", e.toString());
        }
      }
    }
  }

  /** Shutdown hook: no time to be gentle. */
  private void killAll() {
    AgentProcess a = agent;
    if (a != null) {
      a.process().destroyForcibly();
    }
    CollectorProcess c = collector;
    if (c != null) {
      c.process().destroyForcibly();
    }
  }

  /** Seconds since writing started (since the run started, before that). */
  private String at() {
    return ChaosReport.seconds(sinceNanos(t0));
  }

  private static Duration sinceNanos(long start) {
    return Duration.ofNanos(System.nanoTime() - start);
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
