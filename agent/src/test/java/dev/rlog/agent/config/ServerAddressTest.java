package dev.rlog.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ServerAddressTest {

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "collector:50051                  | collector | 50051 | false | collector:50051",
      "http://collector:50051           | collector | 50051 | false | collector:50051",
      "HTTP://localhost:50051/          | localhost | 50051 | false | localhost:50051",
      "https://collector.example.com:443| collector.example.com | 443 | true | https://collector.example.com:443",
      "https://[::1]:7000               | ::1       | 7000  | true  | https://[::1]:7000",
      "'  https://10.0.0.5:50051  '     | 10.0.0.5  | 50051 | true  | https://10.0.0.5:50051",
  })
  void parsesEachFormAndPrintsTheCanonicalOne(String text, String host, int port, boolean tls,
      String printed) {
    ServerAddress a = ServerAddress.parse(text);
    assertThat(a).isEqualTo(new ServerAddress(host, port, tls));
    assertThat(a.toString()).isEqualTo(printed);
    assertThat(ServerAddress.parse(a.toString())).isEqualTo(a);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "collector", "https://collector", "grpc://collector:1",
      "https://collector:1/path", "https://user@collector:1", "http://collector:1?x=1",
      "https://:50051", "https://collector:0", "https://collector:x", "https://a:b:c"})
  void refusesWhatIsNotAnAddress(String text) {
    assertThrows(IllegalArgumentException.class, () -> ServerAddress.parse(text), text);
  }
}
