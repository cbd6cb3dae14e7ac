package dev.rlog.collector.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class SecretHashesTest {

  @Test
  void sha256HexMatchesTheStandardVector() {
    assertThat(SecretHashes.sha256Hex("abc"))
        .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }

  @Test
  void matchesComparesAgainstTheHash() {
    String hash = SecretHashes.sha256Hex("s3cret");
    assertThat(SecretHashes.matches("s3cret", hash)).isTrue();
    assertThat(SecretHashes.matches("s3cret ", hash)).isFalse();
    assertThat(SecretHashes.matches(null, hash)).isFalse();
    assertThat(SecretHashes.matches("s3cret", null)).isFalse();
  }

  @Test
  void constantTimeEqualsTreatsNullAsUnequal() {
    assertThat(SecretHashes.constantTimeEquals("a", "a")).isTrue();
    assertThat(SecretHashes.constantTimeEquals("a", "b")).isFalse();
    assertThat(SecretHashes.constantTimeEquals("a", "ab")).isFalse();
    assertThat(SecretHashes.constantTimeEquals(null, null)).isFalse();
  }

  @Test
  void newSecretIsUrlSafeUnpaddedAndRandom() {
    String a = SecretHashes.newSecret(32);
    String b = SecretHashes.newSecret(32);
    assertThat(a).hasSize(43).matches("[A-Za-z0-9_-]+");
    assertThat(a).isNotEqualTo(b);
  }

  @Test
  void newSecretRefusesWeakOrHugeLengths() {
    assertThrows(IllegalArgumentException.class, () -> SecretHashes.newSecret(15));
    assertThrows(IllegalArgumentException.class, () -> SecretHashes.newSecret(513));
    assertThrows(IllegalArgumentException.class, () -> SecretHashes.sha256Hex(null));
  }
}
