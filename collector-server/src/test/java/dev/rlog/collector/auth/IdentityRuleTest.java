package dev.rlog.collector.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.collector.auth.IdentityRule.Outcome;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class IdentityRuleTest {
  private static final String SECRET_A = SecretHashes.sha256Hex("secret-a");
  private static final String SECRET_B = SecretHashes.sha256Hex("secret-b");

  private static StoredAgent agent(String project, String secretHash) {
    return new StoredAgent("0f8e0b57-5a43-4a0c-9d1a-3c1f2e9f0a11", project, "h", "linux", "6.1",
        0, SecretHashes.sha256Hex("rlr_x"), List.of(), 3, false, 0, 0, 0, secretHash);
  }

  private static String hash(String name) {
    return switch (name) {
      case "-" -> null;
      case "A" -> SECRET_A;
      case "B" -> SECRET_B;
      default -> throw new IllegalArgumentException(name);
    };
  }

  @ParameterizedTest(name = "named={0} project={1} stored={2} presented={3} -> {4}")
  @CsvSource(delimiter = '|', value = {
      // named agent | its project | its secret | request's secret | outcome
      "none  | -   | - | - | NEW_AGENT",
      "none  | -   | - | A | NEW_AGENT",
      "known | db  | A | A | REFUSED_OTHER_PROJECT",
      "known | db  | - | - | REFUSED_OTHER_PROJECT",
      "known | web | A | A | KEEP_WITH_SECRET",
      "known | web | A | B | REFUSED_WRONG_SECRET",
      "known | web | A | - | REFUSED_NO_SECRET",
      "known | web | - | - | KEEP_SECRETLESS",
      "known | web | - | A | REFUSED_SECRETLESS_CLAIM",
  })
  void decide(String named, String project, String stored, String presented, Outcome expected) {
    StoredAgent a = named.equals("none") ? null : agent(project, hash(stored));
    Outcome got = IdentityRule.decide(a, "web", hash(presented));
    assertThat(got).isEqualTo(expected);
    assertThat(got.keepsUuid()).isEqualTo(expected.name().startsWith("KEEP"));
    assertThat(got.isRefusal()).isEqualTo(expected.name().startsWith("REFUSED"));
  }
}
