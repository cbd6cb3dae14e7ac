package dev.rlog.agent.auth;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HostInfoTest {

  @Test
  void detectsSomethingTheCollectorAccepts() {
    HostInfo h = HostInfo.detect();
    assertThat(h.hostname()).isNotBlank().hasSizeLessThanOrEqualTo(HostInfo.MAX_HOSTNAME_CHARS);
    assertThat(h.os()).isNotBlank().hasSizeLessThanOrEqualTo(HostInfo.MAX_OS_CHARS);
    assertThat(h.osVersion()).hasSizeLessThanOrEqualTo(HostInfo.MAX_OS_CHARS);
    assertThat(h.hostname() + h.os() + h.osVersion()).doesNotMatch("(?s).*\\p{Cntrl}.*");
  }

  @Test
  void cleansWhatTheCollectorWouldRefuse() {
    HostInfo h = new HostInfo(" web\u0007-1\n", null, "x".repeat(300));
    assertThat(h.hostname()).isEqualTo("web-1");
    assertThat(h.os()).isEqualTo("unknown");
    assertThat(h.osVersion()).hasSize(HostInfo.MAX_OS_CHARS);
    assertThat(new HostInfo("", " ", null)).isEqualTo(new HostInfo("unknown", "unknown", ""));
  }
}
