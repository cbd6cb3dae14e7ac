package dev.rlog.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * syslog-ng as the agent benchmark's peer, run from a tree of unpacked Debian packages (see
 * {@code e2e/bench/fetch-peers.sh}) rather than an installed one. One run: a {@code socat} sink
 * listens on a free loopback port and appends what it receives to a file; syslog-ng reads the
 * benchmark's log from its start ({@code file()} source, fresh persist file) and sends each line
 * to the sink over TCP ({@code network()} destination) with {@code flags(flow-control)} on the
 * log path, so it slows its reading instead of dropping when the sink lags. The run is timed
 * from syslog-ng's start until the sink file holds every line.
 *
 * <p>The sink is a C program on purpose: a sink in this JVM would add its CPU to the
 * benchmark's own and share its heap and GC. One thread (the benchmark's) drives a run; both
 * processes are stopped on every path out of {@link #run}, and by a shutdown hook while a run is
 * under way (a benchmark stopped with Ctrl-C would otherwise leave them running).
 */
final class SyslogNgPeer {
  /** Where {@code fetch-peers.sh} unpacks by default, relative to the repository root. */
  static final Path DEFAULT_ROOT = Path.of("e2e", "target", "peers", "root");

  private static final Duration START_BOUND = Duration.ofSeconds(10);
  private static final Duration STOP_BOUND = Duration.ofSeconds(20);
  /** A run that gains no line for this long has failed (a lost connection, a wrong config). */
  private static final Duration STALL_BOUND = Duration.ofSeconds(60);
  private static final long POLL_MILLIS = 5;
  private static final Pattern VERSION = Pattern.compile(
      "^Installer-Version: (\\d+\\.\\d+)", Pattern.MULTILINE);

  private final Path syslogNg;
  private final Path socat;
  private final Path moduleDir;
  private final String libraryPath;
  private final String version;
  private final String sourceOptions;

  /** One run's figures; CPU in seconds, RSS in KiB. */
  record Result(double seconds, double firstLineSeconds, double syslogNgCpu,
      long syslogNgPeakRssKiB, double sinkCpu, long sinkPeakRssKiB, double idleCpuPercent) {
    double linesPerSec(long lines) {
      return lines / seconds;
    }

    double cpuMicrosPerLine(long lines) {
      return (syslogNgCpu + sinkCpu) / lines * 1e6;
    }
  }

  /** The peer's binaries are not under the given root, or do not run from there. */
  static final class NotFound extends Exception {
    NotFound(String message) {
      super(message);
    }
  }

  private SyslogNgPeer(Path syslogNg, Path socat, Path moduleDir, String libraryPath,
      String version, String sourceOptions) {
    this.syslogNg = syslogNg;
    this.socat = socat;
    this.moduleDir = moduleDir;
    this.libraryPath = libraryPath;
    this.version = version;
    this.sourceOptions = sourceOptions;
  }

  /**
   * The peer unpacked under {@code root}; checks that {@code syslog-ng --version} runs from there
   * (a missing shared library shows up now rather than as a stalled first run).
   * {@code sourceOptions} go into the {@code file()} source as they are (empty: the defaults).
   */
  static SyslogNgPeer find(Path root, String sourceOptions)
      throws NotFound, IOException, InterruptedException {
    Path syslogNg = root.resolve("usr/sbin/syslog-ng");
    Path socat = root.resolve("usr/bin/socat");
    for (Path p : List.of(syslogNg, socat)) {
      if (!Files.isExecutable(p)) {
        throw new NotFound(p + " not found");
      }
    }
    Path moduleDir = null;
    Path modulesParent = root.resolve("usr/lib/syslog-ng");
    if (Files.isDirectory(modulesParent)) {
      try (Stream<Path> s = Files.list(modulesParent)) {
        moduleDir = s.filter(d -> Files.exists(d.resolve("libaffile.so"))).findFirst()
            .orElse(null);
      }
    }
    if (moduleDir == null) {
      throw new NotFound("no syslog-ng module directory (with libaffile.so) under "
          + modulesParent);
    }
    String libraryPath = String.join(":", libDirs(root));
    ProcessBuilder pb = new ProcessBuilder(syslogNg.toString(), "--module-path=" + moduleDir,
        "--version").redirectErrorStream(true);
    pb.environment().put("LD_LIBRARY_PATH", libraryPath);
    Process p = pb.start();
    try (InputStream in = p.getInputStream()) {
      String out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(START_BOUND.toMillis(), TimeUnit.MILLISECONDS) || p.exitValue() != 0) {
        throw new NotFound(syslogNg + " --version failed: " + out.strip());
      }
      Matcher m = VERSION.matcher(out);
      if (!m.find()) {
        throw new NotFound(syslogNg + " --version printed no Installer-Version: " + out.strip());
      }
      return new SyslogNgPeer(syslogNg, socat, moduleDir, libraryPath, m.group(1),
          sourceOptions);
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * The directories of the unpacked tree that hold shared libraries: the multiarch ones
   * ({@code lib/x86_64-linux-gnu}...) and syslog-ng's own {@code libsyslog-ng-*.so}. The same
   * list as {@code fetch-peers.sh} builds.
   */
  private static List<String> libDirs(Path root) throws IOException {
    List<String> dirs = new ArrayList<>();
    for (Path parent : List.of(root.resolve("lib"), root.resolve("usr/lib"))) {
      if (Files.isDirectory(parent)) {
        try (Stream<Path> s = Files.list(parent)) {
          s.filter(d -> Files.isDirectory(d) && d.getFileName().toString().contains("-linux-gnu"))
              .sorted().forEach(d -> dirs.add(d.toString()));
        }
      }
    }
    dirs.add(root.resolve("usr/lib/syslog-ng").toString());
    return dirs;
  }

  /** "3.38": what the config's {@code @version} says. */
  String version() {
    return version;
  }

  /**
   * The whole configuration of one run. {@code no-parse}: the benchmark's lines are not syslog
   * messages, and without it syslog-ng would take their leading timestamp and first word for a
   * date and a host. Everything else is syslog-ng's default (window sizes, fetch limits, the
   * output format "PRI DATE HOST MSG"), as a user who writes the obvious config gets it, except
   * {@code time-reopen(1)}: the default 60 s retry would turn a connect that lost a race into a
   * minute-long run. {@code stats-freq(0)}: no periodic statistics messages.
   * {@code sourceOptions}: more options of the {@code file()} source, e.g. larger windows.
   */
  static String config(String version, Path log, int port, String sourceOptions) {
    return String.join("\n",
        "@version: " + version,
        "options { stats-freq(0); time-reopen(1); };",
        "source s_bench { file(\"" + quote(log.toString()) + "\" flags(no-parse)"
            + (sourceOptions.isBlank() ? "" : " " + sourceOptions.strip()) + "); };",
        "destination d_sink { network(\"127.0.0.1\" port(" + port + ") transport(\"tcp\")); };",
        "log { source(s_bench); destination(d_sink); flags(flow-control); };",
        "");
  }

  private static String quote(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"");
  }

  /**
   * One measured run over {@code log}, which holds exactly {@code lines} lines; works in
   * {@code runDir} (config, persist file, control socket, sink file, the processes' output).
   * After the last line, measures syslog-ng's CPU for {@code idleSeconds} of doing nothing.
   */
  Result run(Path log, long lines, Path runDir, int idleSeconds) throws Exception {
    Files.createDirectories(runDir);
    int port = CollectorProcess.freePort();
    Path conf = Files.writeString(runDir.resolve("syslog-ng.conf"),
        config(version, log, port, sourceOptions));
    Path sinkFile = runDir.resolve("sink.out");
    List<Process> started = new CopyOnWriteArrayList<>();
    Thread hook = new Thread(() -> started.forEach(Process::destroyForcibly),
        "syslog-ng-peer-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    try (PeerProcess sink = start(started, runDir, "sink.err", List.of(socat.toString(), "-u",
            "TCP-LISTEN:" + port + ",bind=127.0.0.1",
            // relative to runDir: socat's address syntax has no quoting for ',' or ':' in a path
            "OPEN:" + sinkFile.getFileName() + ",creat,append"));
        SinkLineCounter counter = new SinkLineCounter(sinkFile)) {
      awaitListening(sink, port, runDir);
      long t0 = System.nanoTime();
      try (PeerProcess sng = start(started, runDir, "syslog-ng.out", List.of(
          syslogNg.toString(), "-F", "-e", "--no-caps", "--module-path=" + moduleDir,
          "--cfgfile=" + conf, "--persist-file=" + runDir.resolve("syslog-ng.persist"),
          "--pidfile=" + runDir.resolve("syslog-ng.pid"),
          "--control=" + runDir.resolve("syslog-ng.ctl")))) {
        double firstLine = -1;
        long count = 0;
        long lastProgress = System.nanoTime();
        while (count < lines) {
          long now = System.nanoTime();
          long c = counter.poll();
          if (c > count) {
            if (count == 0) {
              firstLine = (now - t0) / 1e9;
            }
            count = c;
            lastProgress = now;
          } else if (now - lastProgress > STALL_BOUND.toNanos()) {
            throw new IllegalStateException("syslog-ng peer: no line for " + STALL_BOUND
                + " at " + count + " of " + lines + "; " + tail(runDir, "syslog-ng.out"));
          }
          if (!sng.process().isAlive() || !sink.process().isAlive()) {
            throw new IllegalStateException("syslog-ng peer: a process ended at " + count
                + " of " + lines + " lines; " + tail(runDir, "syslog-ng.out") + " "
                + tail(runDir, "sink.err"));
          }
          sng.process().waitFor(POLL_MILLIS, TimeUnit.MILLISECONDS);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        double sngCpu = sng.cpuSeconds();
        long sngRss = sng.peakRssKiB();
        double sinkCpu = sink.cpuSeconds();
        long sinkRss = sink.peakRssKiB();
        // idle: at the end of the file; what does watching it for more cost?
        double idle0 = sng.cpuSeconds();
        long i0 = System.nanoTime();
        sng.process().waitFor(idleSeconds, TimeUnit.SECONDS);
        double idlePct = (sng.cpuSeconds() - idle0) / ((System.nanoTime() - i0) / 1e9) * 100;
        if (sng.stop(STOP_BOUND) != 0) {
          throw new IllegalStateException("syslog-ng did not exit 0; "
              + tail(runDir, "syslog-ng.out"));
        }
        // syslog-ng closed its connection: socat sees the end of its input and exits by itself
        sink.process().waitFor(STOP_BOUND.toMillis(), TimeUnit.MILLISECONDS);
        long total = counter.poll();
        if (total != lines) {
          throw new IllegalStateException("sink holds " + total + " lines, expected " + lines);
        }
        return new Result(secs, firstLine, sngCpu, sngRss, sinkCpu, sinkRss, idlePct);
      }
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running or has run: it stops the processes itself
      }
    }
  }

  private PeerProcess start(List<Process> started, Path runDir, String outFile,
      List<String> cmd) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(runDir.toFile())
        .redirectErrorStream(true)
        .redirectOutput(runDir.resolve(outFile).toFile());
    pb.environment().put("LD_LIBRARY_PATH", libraryPath);
    Process p = pb.start();
    started.add(p);
    return new PeerProcess(p);
  }

  /**
   * Waits until the sink listens: syslog-ng must find it there on its first connect, and a test
   * connection of ours would be the one connection this socat accepts.
   */
  private static void awaitListening(PeerProcess sink, int port, Path runDir) throws Exception {
    long deadline = System.nanoTime() + START_BOUND.toNanos();
    while (!listening(Files.readString(Path.of("/proc/net/tcp")), port)) {
      if (!sink.process().isAlive()) {
        throw new IllegalStateException("socat sink exited " + sink.process().exitValue()
            + ": " + tail(runDir, "sink.err"));
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("socat sink not listening on 127.0.0.1:" + port
            + " within " + START_BOUND);
      }
      sink.process().waitFor(POLL_MILLIS, TimeUnit.MILLISECONDS);
    }
  }

  /**
   * Whether {@code /proc/net/tcp} (its text) shows a socket listening on 127.0.0.1:port. Its
   * rows read {@code sl local_address rem_address st ...}, addresses as hex "0100007F:1F90"
   * (the IPv4 address in host byte order, hence both spellings of 127.0.0.1), state 0A = LISTEN.
   */
  static boolean listening(String procNetTcp, int port) {
    String little = String.format(Locale.ROOT, "0100007F:%04X", port);
    String big = String.format(Locale.ROOT, "7F000001:%04X", port);
    for (String row : procNetTcp.split("\n")) {
      String[] f = row.trim().split("\\s+");
      if (f.length > 3 && (f[1].equals(little) || f[1].equals(big)) && f[3].equals("0A")) {
        return true;
      }
    }
    return false;
  }

  private static String tail(Path runDir, String file) {
    try {
      String s = Files.readString(runDir.resolve(file));
      return file + ": " + s.substring(Math.max(0, s.length() - 2000)).strip();
    } catch (IOException e) {
      return file + ": (" + e + ")";
    }
  }

  /** syslog-ng or socat: stopped like our own processes (SIGTERM, then SIGKILL). */
  private static final class PeerProcess extends ChildProcess {
    PeerProcess(Process process) {
      super(process);
    }
  }
}
