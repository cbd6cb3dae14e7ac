package dev.rlog.agent.heartbeat;

import oshi.SystemInfo;
import oshi.hardware.CentralProcessor;
import oshi.hardware.GlobalMemory;
import oshi.hardware.HardwareAbstractionLayer;

/**
 * CPU and memory from OSHI. CPU is the system-wide load between the previous sample's tick
 * counters and this one's, so each heartbeat reports the load over the interval since the last
 * beat rather than an instant; the first sample covers the time since construction. Memory is
 * (total - available) / total.
 *
 * <p>Not thread-safe (it keeps the previous ticks); the heartbeat thread is its only user.
 */
public final class OshiSystemMetrics implements SystemMetrics {
  private final CentralProcessor processor;
  private final GlobalMemory memory;
  private long[] previousTicks;

  public OshiSystemMetrics() {
    HardwareAbstractionLayer hal = new SystemInfo().getHardware();
    this.processor = hal.getProcessor();
    this.memory = hal.getMemory();
    this.previousTicks = processor.getSystemCpuLoadTicks();
  }

  @Override
  public Sample sample() {
    long[] ticks = processor.getSystemCpuLoadTicks();
    double cpu = processor.getSystemCpuLoadBetweenTicks(previousTicks, ticks) * 100.0;
    previousTicks = ticks;
    long total = memory.getTotal();
    double mem = total > 0 ? 100.0 * (total - memory.getAvailable()) / total : 0;
    return new Sample(cpu, mem).clamped();
  }
}
