package dev.rlog.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** Resource figures of a process from Linux {@code /proc}; -1 where they cannot be read. */
final class ProcStats {
  private ProcStats() {}

  /** Current resident set size in KiB. */
  static long rssKiB(long pid) {
    return status(pid, "VmRSS:");
  }

  /** Peak resident set size in KiB. */
  static long peakRssKiB(long pid) {
    return status(pid, "VmHWM:");
  }

  /** User + system CPU seconds used so far. */
  static double cpuSeconds(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // utime and stime, fields 14 and 15 of stat, counted after the ") " that ends the name
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /**
   * CPU seconds the JVM's JIT compiler threads ("C1 CompilerThre…", "C2 CompilerThre…") used so
   * far: a cost a long-running process pays once, at its start, not per record.
   */
  static double jitCpuSeconds(long pid) {
    return threadsCpuSeconds(pid, name -> name.contains("CompilerThre"));
  }

  /**
   * CPU seconds the threads serving {@code /metrics} used so far (the JDK's HTTP server under
   * the Prometheus exporter: "HTTP-Dispatcher", "prometheus-http-…"): a benchmark that polls
   * the collector's metrics every 50 ms costs it ~3.5 ms per scrape, which an operator scraping
   * every 15 s does not pay.
   */
  static double metricsCpuSeconds(long pid) {
    return threadsCpuSeconds(pid,
        name -> name.startsWith("HTTP-Dispatcher") || name.startsWith("prometheus-http"));
  }

  /** CPU seconds so far of the threads whose name ({@code comm}) passes {@code name}. */
  private static double threadsCpuSeconds(long pid, java.util.function.Predicate<String> name) {
    Map<String, Double> byName = threadCpuSeconds(pid);
    if (byName == null) {
      return -1;
    }
    return byName.entrySet().stream().filter(e -> name.test(e.getKey()))
        .mapToDouble(Map.Entry::getValue).sum();
  }

  /**
   * CPU seconds so far of the live threads, summed by name ({@code comm}, at most 15
   * characters: "rlog-grpc-io-3-" and the like), with a trailing thread number left out so a
   * pool's threads count as one ("rlog-grpc-1", "rlog-grpc-2": "rlog-grpc"); null if unreadable.
   */
  static Map<String, Double> threadCpuSeconds(long pid) {
    Map<String, Double> byName = new TreeMap<>();
    try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path t : (Iterable<Path>) tasks::iterator) {
        try {
          String name = Files.readString(t.resolve("comm")).strip().replaceAll("-\\d*$", "");
          String stat = Files.readString(t.resolve("stat"));
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          byName.merge(name, (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0,
              Double::sum);
        } catch (IOException | RuntimeException e) {
          // the thread ended between the listing and the read: its time is gone from the sum
        }
      }
    } catch (IOException e) {
      return null;
    }
    return byName;
  }

  private static long status(long pid, String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith(field)) {
          return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }
}
