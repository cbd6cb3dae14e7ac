package dev.rlog.e2e;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Throughput and memory of the collector, run as a user runs it: the built jar in its own
 * process, loopback clients, a fresh store per run. Prints one line per run and the median per
 * scenario. Not a test: nothing here asserts on speed.
 */
@Command(name = "collector-benchmark", mixinStandardHelpOptions = true,
    description = "Drives a real collector process over TCP and gRPC and reports rates and RSS.")
public final class CollectorBenchmark implements Callable<Integer> {

  @Option(names = "--runs", defaultValue = "3", description = "runs per scenario (median shown)")
  int runs;

  @Option(names = "--scenarios", split = ",",
      defaultValue = "tcp-8x100,tcp-64x100,tcp-8x512,grpc-8x1000x200,ship-8x1000x200,"
          + "tcp-conns-1000",
      description = "tcp-CONNSxBYTES, grpc-STREAMSxLINESxBYTES (Send), ship-STREAMSxLINESxBYTES"
          + " (Ship chunks), tcp-conns-N")
  List<String> scenarios;

  @Option(names = "--tcp-mib", defaultValue = "2048",
      description = "payload MiB sent per TCP scenario run")
  long tcpMib;

  @Option(names = "--grpc-lines", defaultValue = "8000000",
      description = "lines sent per gRPC scenario run")
  long grpcLines;

  @Option(names = "--jvm", split = " ", defaultValue = "",
      description = "extra JVM options for the collector (space separated)")
  List<String> jvm = new ArrayList<>();

  @Option(names = "--collector-yaml", defaultValue = "",
      description = "extra collector.yaml lines, e.g. \"store: {drop_page_cache: false}\"")
  String collectorYaml;

  @Option(names = "--work", description = "work directory (default: a temp dir, deleted)")
  Path work;

  @Option(names = "--disk-reference", negatable = true, defaultValue = "true",
      description = "after each TCP run, time the disk alone writing the same bytes the way "
          + "the store does (2 MiB writes, forced every 8 MiB and at each 128 MiB segment)")
  boolean diskReference;

  record Result(String scenario, long records, double seconds, double payloadMiB, long peakRssKiB,
      String note) {
    double recordsPerSec() {
      return records / seconds;
    }

    double mibPerSec() {
      return payloadMiB / seconds;
    }
  }

  @Override
  public Integer call() throws Exception {
    System.out.printf(Locale.ROOT, "machine: %d cores, java %s, collector jar %s%n",
        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
        CollectorProcess.jar());
    List<String> summary = new ArrayList<>();
    for (String sc : scenarios) {
      List<Result> results = new ArrayList<>();
      for (int r = 0; r < runs; r++) {
        Result res = runOnce(sc);
        results.add(res);
        System.out.printf(Locale.ROOT,
            "run %-18s %,12d records %7.2f s %,12.0f rec/s %8.1f MiB/s peak RSS %4d MiB %s%n",
            sc, res.records, res.seconds, res.recordsPerSec(), res.mibPerSec(),
            res.peakRssKiB / 1024, res.note);
      }
      results.sort(Comparator.comparingDouble(Result::recordsPerSec));
      Result med = results.get(results.size() / 2);
      long maxRss = results.stream().mapToLong(Result::peakRssKiB).max().orElse(-1);
      summary.add(String.format(Locale.ROOT,
          "MEDIAN %-18s %,12.0f rec/s %8.1f MiB/s payload, peak RSS max %d MiB %s",
          sc, med.recordsPerSec(), med.mibPerSec(), maxRss / 1024, med.note));
    }
    System.out.println();
    summary.forEach(System.out::println);
    return 0;
  }

  private Result runOnce(String scenario) throws Exception {
    Path dir = work != null ? Files.createDirectories(work)
        : Files.createTempDirectory("rlog-bench-");
    try {
      Path runDir = Files.createTempDirectory(dir, "run-");
      CollectorProcess.writeConfig(runDir, collectorYaml);
      String key = CollectorProcess.runCommand(runDir, "project", "create", "bench").trim();
      try (CollectorProcess c = CollectorProcess.start(runDir, jvm.stream()
          .filter(s -> !s.isBlank()).toList())) {
        Result r = drive(scenario, c, key);
        int exit = c.stop(Duration.ofSeconds(30));
        if (exit != 0) {
          throw new IllegalStateException("collector exited " + exit);
        }
        return r;
      }
    } finally {
      if (work == null) {
        deleteTree(dir);
      }
    }
  }

  private Result drive(String sc, CollectorProcess c, String key) throws Exception {
    double before = c.metric("rlog_store_records_total");
    double bytesBefore = c.metric("rlog_store_bytes_total");
    double cpuBefore = c.cpuSeconds();
    double jitBefore = c.jitCpuSeconds();
    double scrapeBefore = c.metricsCpuSeconds();
    String[] p = sc.split("-");
    long records;
    double payloadMiB;
    String note = "";
    long t0 = System.nanoTime();
    if (sc.startsWith("tcp-conns-")) {
      int conns = Integer.parseInt(p[2]);
      long per = Math.max(1, (tcpMib << 20) / 100 / conns / 4);
      TcpLoad load = new TcpLoad(c.tcpPort(), conns, 100, per, 2);
      long rssIdle = c.rssKiB();
      load.run();
      records = load.totalRecords();
      payloadMiB = records * 100.0 / (1 << 20);
      note = "RSS before " + rssIdle / 1024 + " MiB";
    } else if (sc.startsWith("tcp-")) {
      String[] cb = p[1].split("x");
      int conns = Integer.parseInt(cb[0]);
      int bytes = Integer.parseInt(cb[1]);
      long per = Math.max(1, (tcpMib << 20) / bytes / conns);
      TcpLoad load = new TcpLoad(c.tcpPort(), conns, bytes, per, 2);
      load.run();
      records = load.totalRecords();
      payloadMiB = records * (double) bytes / (1 << 20);
    } else if (sc.startsWith("ship-")) {
      String[] slb = p[1].split("x");
      int streams = Integer.parseInt(slb[0]);
      int lines = Integer.parseInt(slb[1]);
      int bytes = Integer.parseInt(slb[2]);
      int chunks = (int) Math.max(1, grpcLines / streams / lines);
      ShipLoad load = new ShipLoad(c.grpcPort(), key, streams, lines, bytes, chunks);
      t0 = System.nanoTime(); // registration is not part of the rate
      load.run();
      records = load.totalLines();
      payloadMiB = records * (double) bytes / (1 << 20);
    } else if (sc.startsWith("grpc-")) {
      String[] slb = p[1].split("x");
      int streams = Integer.parseInt(slb[0]);
      int lines = Integer.parseInt(slb[1]);
      int bytes = Integer.parseInt(slb[2]);
      int batchesPerCall = 20;
      int calls = (int) Math.max(1, grpcLines / streams / lines / batchesPerCall);
      GrpcLoad load = new GrpcLoad(c.grpcPort(), key, streams, lines, bytes, calls,
          batchesPerCall);
      t0 = System.nanoTime(); // registration is not part of the rate
      load.run();
      records = load.totalLines();
      payloadMiB = records * (double) bytes / (1 << 20);
    } else {
      throw new CommandLine.ParameterException(new CommandLine(this), "unknown scenario " + sc);
    }
    // Done when the store has committed every record (gRPC calls already waited for that).
    while (c.metric("rlog_store_records_total") - before < records) {
      if (!c.process().isAlive()) {
        throw new IllegalStateException("collector died");
      }
      c.process().waitFor(AgentBenchmark.POLL_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    double cpu = c.cpuSeconds() - cpuBefore;
    double jit = c.jitCpuSeconds() - jitBefore;
    double scrape = c.metricsCpuSeconds() - scrapeBefore;
    double storeMiB = (c.metric("rlog_store_bytes_total") - bytesBefore) / (1 << 20);
    String store = String.format(Locale.ROOT, "store %.1f MiB/s", storeMiB / secs);
    if (diskReference && sc.startsWith("tcp-")) {
      double disk = DiskReference.mibPerSecond(c.workDir(), (long) (storeMiB * (1 << 20)));
      store += String.format(Locale.ROOT, " (disk alone %.1f MiB/s: %.0f %%)", disk,
          100 * storeMiB / secs / disk);
    }
    // Without the JIT compiler threads: what a collector that has run for a minute spends; and
    // without this benchmark's own /metrics polling, every 50 ms (an operator's is every 15 s).
    note = String.format(Locale.ROOT,
        "collector CPU %.2f s (%.0f ns/record, %.0f without JIT and /metrics polling), %s %s",
        cpu, cpu * 1e9 / records, (cpu - jit - scrape) * 1e9 / records, store, note).trim();
    return new Result(sc, records, secs, payloadMiB, c.peakRssKiB(), note);
  }

  private static void deleteTree(Path dir) throws Exception {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(x);
      }
    }
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new CollectorBenchmark()).execute(args));
  }

}
