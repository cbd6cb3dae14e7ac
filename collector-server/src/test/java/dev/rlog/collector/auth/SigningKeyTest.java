package dev.rlog.collector.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.common.time.FakeClock;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SigningKeyTest {
  @TempDir Path stateDir;
  private final FakeClock clock = new FakeClock();

  @Test
  void generatesAnOwnerOnlyKeyFileOnFirstStartAndReusesItAfter() throws Exception {
    SigningKey first = SigningKey.loadOrCreate(stateDir);
    Path file = stateDir.resolve(SigningKey.FILE_NAME);

    assertThat(Files.getPosixFilePermissions(file))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    byte[] raw = Base64.getDecoder().decode(Files.readString(file).strip());
    assertThat(raw).hasSizeGreaterThanOrEqualTo(32);

    SigningKey second = SigningKey.loadOrCreate(stateDir);
    String token = new TokenIssuer(first, clock, Duration.ofMinutes(5)).issue("a-1", "web", 0);
    assertThat(new TokenIssuer(second, clock, Duration.ofMinutes(5)).verify(token))
        .isEqualTo(new AgentIdentity("a-1", "web"));
  }

  @Test
  void refusesAShortKey() throws Exception {
    Files.writeString(stateDir.resolve(SigningKey.FILE_NAME),
        Base64.getEncoder().encodeToString(new byte[16]), StandardCharsets.US_ASCII);
    IOException e = assertThrows(IOException.class, () -> SigningKey.loadOrCreate(stateDir));
    assertThat(e).hasMessageContaining("signing.key").hasMessageContaining("16");
  }

  @Test
  void refusesAKeyThatIsNotBase64WithoutEchoingIt() throws Exception {
    Files.writeString(stateDir.resolve(SigningKey.FILE_NAME), "not*base64*at*all");
    IOException e = assertThrows(IOException.class, () -> SigningKey.loadOrCreate(stateDir));
    assertThat(e).hasMessageContaining("base64").hasMessageNotContaining("not*base64");
  }

  @Test
  void toStringDoesNotShowTheKey() {
    assertThat(SigningKey.generate().toString()).isEqualTo("SigningKey[HS256, redacted]");
  }
}
