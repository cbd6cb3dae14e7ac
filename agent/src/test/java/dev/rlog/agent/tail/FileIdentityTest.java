package dev.rlog.agent.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FileIdentityTest {
  private static String fp(String head, int n) {
    byte[] b = head.getBytes(StandardCharsets.UTF_8);
    return FileIdentity.fingerprint(b, b.length, n);
  }

  @Test
  void fingerprintCoversTheFirstLineSoAGrowingFileKeepsIt() {
    String first = fp("2024-01-01 start\n", 1024);
    assertThat(first).hasSize(16).matches("[0-9a-f]+");
    assertThat(fp("2024-01-01 start\nsecond line\n", 1024)).isEqualTo(first);
    assertThat(fp("2024-01-01 start\nsecond line\nthird", 1024)).isEqualTo(first);
    assertThat(fp("2024-01-01 other\n", 1024)).isNotEqualTo(first);
  }

  @Test
  void fingerprintIsUndecidedUntilTheFirstLineEndsOrNBytesExist() {
    assertThat(fp("", 8)).isNull();
    assertThat(fp("partial", 8)).isNull();
    assertThat(fp("partial\n", 8)).isNotNull();
    assertThat(fp("12345678", 8)).isNotNull();
    // First line longer than N: only N bytes count, so the rest of the line may still change.
    assertThat(fp("12345678xyz\n", 8)).isEqualTo(fp("12345678", 8));
    assertThat(FileIdentity.fingerprintLength("ab\ncd".getBytes(StandardCharsets.UTF_8), 5, 8))
        .isEqualTo(3);
    assertThrows(IllegalArgumentException.class,
        () -> FileIdentity.fingerprintLength(new byte[1], 1, 0));
  }

  @Test
  void sameFileNeedsSameKeyAndSameStart() {
    FileIdentity a = new FileIdentity("(dev=803,ino=12)", "aa");
    assertThat(a.sameFile(new FileIdentity("(dev=803,ino=12)", "aa"))).isTrue();
    assertThat(a.sameFile(new FileIdentity("(dev=803,ino=12)", "bb"))).isFalse();
    assertThat(a.sameFile(new FileIdentity("(dev=803,ino=13)", "aa"))).isFalse();
    assertThat(a.sameFile(FileIdentity.undecided("(dev=803,ino=12)"))).isFalse();
    assertThat(a.sameKey(FileIdentity.undecided("(dev=803,ino=12)"))).isTrue();
    // Without keys only the start can be compared (callers add the path).
    assertThat(new FileIdentity(null, "aa").sameFile(new FileIdentity(null, "aa"))).isTrue();
    assertThat(new FileIdentity(null, "aa").sameKey(new FileIdentity(null, "aa"))).isFalse();
  }

  @Test
  void instanceIdIsCompactAndCarriesTheNonce() {
    FileIdentity a = new FileIdentity("(dev=803,ino=1234567)", "0123456789abcdef");
    assertThat(a.instanceId("1a2b3c4d")).isEqualTo("803:1234567:0123456789abcdef:1a2b3c4d");
    assertThat(new FileIdentity(null, "0123456789abcdef").instanceId("n1"))
        .isEqualTo("nokey:0123456789abcdef:n1");
    assertThat(new FileIdentity("weird key/with:stuff", "ab").instanceId("n"))
        .isEqualTo("weird_key_with_stuff:ab:n");
    assertThrows(IllegalStateException.class, () -> FileIdentity.undecided("k").instanceId("n"));
    assertThrows(IllegalArgumentException.class, () -> a.instanceId("has:colon"));
    assertThrows(IllegalArgumentException.class, () -> a.instanceId(""));
  }
}
