package dev.rlog.agent.heartbeat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class ProcSystemMetricsTest {
  @Test
  void cpuIsTheBusyShareOfTheTicksBetweenTwoSamplesIdleAndIowaitCountingAsIdle() {
    long[] a = ProcSystemMetrics.cpuTicks(
        "cpu  100 10 50 800 40 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n");
    // user+nice+system+irq+softirq+steal = 160 busy of 1,000
    assertThat(a).containsExactly(160, 1000);
    long[] b = ProcSystemMetrics.cpuTicks("cpu  150 10 100 1000 90 0 0 0 5 5");
    // 100 more busy ticks of 350 more: guest columns are not added (already in user and nice)
    assertThat(ProcSystemMetrics.busyPercent(a, b)).isCloseTo(100.0 * 100 / 350, within(1e-9));
    assertThat(ProcSystemMetrics.busyPercent(b, b)).isZero(); // no ticks passed: 0, not NaN
    assertThatThrownBy(() -> ProcSystemMetrics.cpuTicks("intr 1 2 3"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void memoryIsTotalLessAvailableOverTotal() {
    String meminfo = "MemTotal:       24683656 kB\nMemFree:         1000 kB\n"
        + "MemAvailable:   18512742 kB\nBuffers: 1 kB\n";
    assertThat(ProcSystemMetrics.memoryPercent(meminfo))
        .isCloseTo(100.0 * (24683656 - 18512742) / 24683656, within(1e-9));
    assertThatThrownBy(() -> ProcSystemMetrics.memoryPercent("MemTotal: 5 kB\n"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void onLinuxItSamplesPercentagesAndAgreesWithOshiOnMemory() {
    Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/meminfo")));
    SystemMetrics m = ProcSystemMetrics.forThisHost();
    assertThat(m).isInstanceOf(ProcSystemMetrics.class);
    SystemMetrics.Sample s = m.sample();
    assertThat(s.cpuPercent()).isBetween(0.0, 100.0);
    assertThat(s.memoryPercent()).isBetween(0.0, 100.0);
    // the same reading as OSHI's, give or take what the host did between the two reads
    assertThat(s.memoryPercent())
        .isCloseTo(new OshiSystemMetrics().sample().memoryPercent(), within(2.0));
  }
}
