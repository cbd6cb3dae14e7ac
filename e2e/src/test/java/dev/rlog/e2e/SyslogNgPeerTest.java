package dev.rlog.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The pure parts of the benchmark's syslog-ng peer; running it needs the unpacked packages. */
class SyslogNgPeerTest {
  private static final String PROC_NET_TCP = String.join("\n",
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid",
      "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0",
      "   1: 0100007F:AFAF 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0",
      "   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0",
      "");

  @Test
  void listeningOnLoopbackOnly() {
    assertThat(SyslogNgPeer.listening(PROC_NET_TCP, 0xAFAF)).isTrue();
    // 0.0.0.0:2024 listens, but not on the address the sink binds to
    assertThat(SyslogNgPeer.listening(PROC_NET_TCP, 2024)).isFalse();
    // an established connection from port 8080 is not a listener
    assertThat(SyslogNgPeer.listening(PROC_NET_TCP, 8080)).isFalse();
    assertThat(SyslogNgPeer.listening("", 0xAFAF)).isFalse();
  }

  @Test
  void bigEndianSpellingOfLoopback() {
    assertThat(SyslogNgPeer.listening(
        "   0: 7F000001:AFAF 00000000:0000 0A 00000000:00000000", 0xAFAF)).isTrue();
  }

  @Test
  void configNamesTheFileThePortAndFlowControl() {
    String conf = SyslogNgPeer.config("3.38", Path.of("/tmp/a \"b\"/app.log"), 40123, "");
    assertThat(conf).startsWith("@version: 3.38\n")
        .contains("file(\"/tmp/a \\\"b\\\"/app.log\" flags(no-parse))")
        .contains("network(\"127.0.0.1\" port(40123) transport(\"tcp\"))")
        .contains("flags(flow-control)");
  }

  @Test
  void sourceOptionsGoIntoTheFileSource() {
    String conf = SyslogNgPeer.config("3.38", Path.of("/l/app.log"), 1,
        " log-iw-size(10000) ");
    assertThat(conf).contains("file(\"/l/app.log\" flags(no-parse) log-iw-size(10000));");
  }
}
