package dev.rlog.agent.heartbeat;

/**
 * Where the heartbeat gets this host's load. Called from the heartbeat thread only, so an
 * implementation may keep state between samples (such as the previous CPU tick counters).
 */
public interface SystemMetrics {

  /** Host-wide CPU and memory use, in percent. */
  record Sample(double cpuPercent, double memoryPercent) {

    /**
     * The same sample clamped to 0..100, NaN counted as 0: the collector refuses a heartbeat
     * whose values are not percentages, and a glitch in one reading must not cost the beat.
     */
    public Sample clamped() {
      return new Sample(clamp(cpuPercent), clamp(memoryPercent));
    }

    private static double clamp(double v) {
      if (Double.isNaN(v) || v < 0) {
        return 0;
      }
      return Math.min(v, 100);
    }
  }

  Sample sample();
}
