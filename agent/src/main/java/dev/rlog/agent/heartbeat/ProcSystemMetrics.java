package dev.rlog.agent.heartbeat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU and memory from Linux's {@code /proc/stat} and {@code /proc/meminfo}, the files OSHI reads
 * there, without OSHI: its start-up (JNA and ~440 classes, 0.3-0.5 s on the main thread, a few
 * MiB of metaspace) was on every agent's way to its first line. The same figures as {@link
 * OshiSystemMetrics}: CPU is the host-wide busy share of the ticks between the previous sample and
 * this one (idle and iowait count as idle); memory is (MemTotal - MemAvailable) / MemTotal.
 *
 * <p>Not thread-safe (it keeps the previous ticks); the heartbeat thread is its only user.
 */
public final class ProcSystemMetrics implements SystemMetrics {
  private static final Path STAT = Path.of("/proc/stat");
  private static final Path MEMINFO = Path.of("/proc/meminfo");

  private long[] previous;

  /** Throws if the files are not there or not as expected (not Linux): use OSHI then. */
  public ProcSystemMetrics() {
    previous = cpuTicks(read(STAT));
    memoryPercent(read(MEMINFO));
  }

  /** The metrics of this host: from /proc where it has it, else from OSHI. */
  public static SystemMetrics forThisHost() {
    try {
      return new ProcSystemMetrics();
    } catch (RuntimeException e) {
      return new OshiSystemMetrics();
    }
  }

  @Override
  public Sample sample() {
    double cpu = 0;
    double mem = 0;
    try {
      long[] now = cpuTicks(read(STAT));
      cpu = busyPercent(previous, now);
      previous = now;
      mem = memoryPercent(read(MEMINFO));
    } catch (RuntimeException e) {
      // a glitch in one reading must not cost the beat: 0 for what could not be read
    }
    return new Sample(cpu, mem).clamped();
  }

  /**
   * {busy, total} ticks of the "cpu" line of /proc/stat: user nice system idle iowait irq
   * softirq steal (guest time is already in user and nice).
   */
  static long[] cpuTicks(String stat) {
    int nl = stat.indexOf('\n');
    String[] f = (nl < 0 ? stat : stat.substring(0, nl)).trim().split("\\s+");
    if (f.length < 5 || !f[0].equals("cpu")) {
      throw new IllegalArgumentException("not a /proc/stat cpu line: " + f[0]);
    }
    long total = 0;
    long idle = 0;
    for (int i = 1; i < Math.min(f.length, 9); i++) {
      long v = Long.parseLong(f[i]);
      total += v;
      if (i == 4 || i == 5) {
        idle += v;
      }
    }
    return new long[] {total - idle, total};
  }

  static double busyPercent(long[] before, long[] after) {
    long total = after[1] - before[1];
    long busy = after[0] - before[0];
    return total <= 0 ? 0 : 100.0 * busy / total;
  }

  static double memoryPercent(String meminfo) {
    long total = -1;
    long available = -1;
    for (String line : meminfo.split("\n")) {
      if (line.startsWith("MemTotal:")) {
        total = kib(line);
      } else if (line.startsWith("MemAvailable:")) {
        available = kib(line);
      }
    }
    if (total <= 0 || available < 0) {
      throw new IllegalArgumentException("no MemTotal/MemAvailable in /proc/meminfo");
    }
    return 100.0 * (total - available) / total;
  }

  private static long kib(String line) {
    return Long.parseLong(line.substring(line.indexOf(':') + 1).trim().split("\\s+")[0]);
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
