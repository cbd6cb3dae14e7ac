package dev.rlog.e2e;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A program of ours running as a separate process: how tests and benchmarks stop it and read
 * its resource use. {@link #close()} always ends it (SIGTERM, then SIGKILL after a bound).
 */
abstract class ChildProcess implements AutoCloseable {
  private static final Duration CLOSE_BOUND = Duration.ofSeconds(20);

  protected final Process process;

  protected ChildProcess(Process process) {
    this.process = process;
  }

  public Process process() {
    return process;
  }

  public long pid() {
    return process.pid();
  }

  /** Current resident set size in KiB (Linux /proc), or -1. */
  public long rssKiB() {
    return ProcStats.rssKiB(pid());
  }

  /** Peak resident set size in KiB (Linux /proc), or -1. */
  public long peakRssKiB() {
    return ProcStats.peakRssKiB(pid());
  }

  /** User + system CPU seconds used so far (Linux /proc), or -1. */
  public double cpuSeconds() {
    return ProcStats.cpuSeconds(pid());
  }

  /** CPU seconds of the JIT compiler threads so far (Linux /proc), or -1. */
  public double jitCpuSeconds() {
    return ProcStats.jitCpuSeconds(pid());
  }

  /** CPU seconds of the threads serving {@code /metrics} so far (Linux /proc), or -1. */
  public double metricsCpuSeconds() {
    return ProcStats.metricsCpuSeconds(pid());
  }

  /** CPU seconds so far of the live threads, by name without a trailing number; null if unreadable. */
  public java.util.Map<String, Double> threadCpuSeconds() {
    return ProcStats.threadCpuSeconds(pid());
  }

  /** SIGTERM, then the exit code (or -1 after SIGKILL past the bound). */
  public int stop(Duration bound) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      process.waitFor();
      return -1;
    }
    return process.exitValue();
  }

  /** SIGKILL, no chance to flush. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor();
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      stop(CLOSE_BOUND);
    }
  }
}
