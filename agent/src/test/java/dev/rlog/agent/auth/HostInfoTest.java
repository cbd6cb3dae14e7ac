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

  @Test
  void readsOsReleaseWithQuotesEscapesAndComments() {
    assertThat(HostInfo.parseOsRelease(String.join("\n",
        "# a comment", "", "NAME=\"Debian GNU/Linux\"", "VERSION_ID='12'", "ID=debian",
        "PRETTY_NAME=\"say \\\"hi\\\"\"", "broken line", "=novalue", "")))
        .containsEntry("NAME", "Debian GNU/Linux").containsEntry("VERSION_ID", "12")
        .containsEntry("ID", "debian").containsEntry("PRETTY_NAME", "say \"hi\"")
        .hasSize(4);
    assertThat(HostInfo.readOsRelease(java.nio.file.Path.of("/nonexistent/os-release")))
        .isEmpty();
  }

  @Test
  void onLinuxTellsTheCollectorWhatOshiWouldHaveToldIt() {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        java.nio.file.Files.exists(java.nio.file.Path.of("/etc/os-release")));
    oshi.software.os.OperatingSystem os = new oshi.SystemInfo().getOperatingSystem();
    HostInfo h = HostInfo.detect();
    assertThat(h.os()).isEqualTo(os.getFamily());
    assertThat(h.osVersion()).isEqualTo(os.getVersionInfo().getVersion());
    assertThat(h.hostname()).isEqualTo(os.getNetworkParams().getHostName());
  }
}
