package dev.rlog.collector.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.auth.InvalidTokenException.Reason;
import dev.rlog.common.time.FakeClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class TokenIssuerTest {
  private static final Duration TTL = Duration.ofMinutes(15);

  private final FakeClock clock = new FakeClock();
  private final SigningKey key = SigningKey.generate();
  private final TokenIssuer issuer = new TokenIssuer(key, clock, TTL);

  @Test
  void verifiesWhatItIssued() throws Exception {
    String token = issuer.issue("agent-1", "web", 3);

    assertThat(issuer.verify(token)).isEqualTo(new AgentIdentity("agent-1", "web"));
    VerifiedToken claims = issuer.verifyClaims(token);
    assertThat(claims.generation()).isEqualTo(3);
    assertThat(claims.expiresAt()).isEqualTo(clock.now().plus(TTL));
  }

  @Test
  void tokenIsValidUntilTheTtlAndExpiredAfter() throws Exception {
    String token = issuer.issue("agent-1", "web", 0);

    clock.advance(TTL.minusSeconds(1));
    assertThat(issuer.verify(token).agentUuid()).isEqualTo("agent-1");

    clock.advance(Duration.ofSeconds(2));
    assertThat(reasonFor(issuer, token)).isEqualTo(Reason.EXPIRED);
  }

  @Test
  void tokenSignedWithAnotherKeyIsForged() {
    String forged = new TokenIssuer(SigningKey.generate(), clock, TTL).issue("agent-1", "web", 0);
    assertThat(reasonFor(issuer, forged)).isEqualTo(Reason.FORGED);
  }

  @Test
  void tamperedPayloadIsRejected() {
    String[] parts = issuer.issue("agent-1", "web", 0).split("\\.");
    String payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
    String tampered = payload.replace("\"prj\":\"web\"", "\"prj\":\"db\"");
    assertThat(tampered).isNotEqualTo(payload);
    String token = parts[0] + "."
        + Base64.getUrlEncoder().withoutPadding().encodeToString(tampered.getBytes(StandardCharsets.UTF_8))
        + "." + parts[2];

    assertThat(reasonFor(issuer, token)).isEqualTo(Reason.FORGED);
  }

  @Test
  void unsignedTokenIsRejected() {
    String[] parts = issuer.issue("agent-1", "web", 0).split("\\.");
    String none = Base64.getUrlEncoder().withoutPadding()
        .encodeToString("{\"alg\":\"none\"}".getBytes(StandardCharsets.UTF_8));
    assertThat(reasonFor(issuer, none + "." + parts[1] + ".")).isEqualTo(Reason.MALFORMED);
  }

  @Test
  void garbageIsMalformedAndNothingIsMissing() {
    assertThat(reasonFor(issuer, "abc.def")).isEqualTo(Reason.MALFORMED);
    assertThat(reasonFor(issuer, "x".repeat(TokenIssuer.MAX_TOKEN_CHARS + 1))).isEqualTo(Reason.MALFORMED);
    assertThat(reasonFor(issuer, null)).isEqualTo(Reason.MISSING);
    assertThat(reasonFor(issuer, " ")).isEqualTo(Reason.MISSING);
  }

  @Test
  void messageNeverEchoesTheToken() {
    String forged = new TokenIssuer(SigningKey.generate(), clock, TTL).issue("agent-1", "web", 0);
    InvalidTokenException e = assertThrows(InvalidTokenException.class, () -> issuer.verify(forged));
    assertThat(e.getMessage()).isEqualTo("access token signature is invalid");
    assertThat(e.getMessage()).doesNotContain(forged.substring(0, 10));
  }

  @Test
  void refusesAnUnreasonableTtl() {
    assertThrows(IllegalArgumentException.class, () -> new TokenIssuer(key, clock, Duration.ZERO));
    assertThrows(IllegalArgumentException.class,
        () -> new TokenIssuer(key, clock, TokenIssuer.MAX_ACCESS_TTL.plusSeconds(1)));
  }

  static Reason reasonFor(TokenIssuer issuer, String token) {
    return assertThrows(InvalidTokenException.class, () -> issuer.verify(token)).reason();
  }
}
