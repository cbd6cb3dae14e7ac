package dev.rlog.collector.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.tcp.ConnectionState.Event;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pure parts of the TCP bounds: budget, allowlist, state table. */
class TcpBoundsTest {
  private final List<String> evicted = new ArrayList<>();

  private PartialBudget.Holder holder(String name) {
    return new PartialBudget.Holder() {
      @Override
      public void evict() {
        evicted.add(name);
      }

      @Override
      public String toString() {
        return name;
      }
    };
  }

  @Test
  void budgetEvictsTheLargestThenTheOldestAmongEquals() {
    PartialBudget b = new PartialBudget(100);
    PartialBudget.Holder a = holder("a");
    PartialBudget.Holder c = holder("c");
    PartialBudget.Holder d = holder("d");
    assertThat(b.hold(a, 40)).isTrue();
    assertThat(b.hold(c, 40)).isTrue();
    assertThat(b.hold(d, 30)).isTrue(); // 110: a (oldest of the two largest) goes
    assertThat(evicted).containsExactly("a");
    assertThat(b.used()).isEqualTo(70);
    assertThat(b.hold(a, 1)).isFalse(); // evicted stays refused until released
    b.release(a);
    assertThat(b.hold(a, 10)).isTrue();
    assertThat(b.hold(c, 0)).isTrue();
    assertThat(b.used()).isEqualTo(40);
  }

  @Test
  void budgetRefusesTheAskerWhenItIsTheLargest() {
    PartialBudget b = new PartialBudget(100);
    PartialBudget.Holder a = holder("a");
    PartialBudget.Holder big = holder("big");
    b.hold(a, 30);
    assertThat(b.hold(big, 80)).isFalse();
    assertThat(evicted).isEmpty();
    assertThat(b.used()).isEqualTo(30);
  }

  @Test
  void allowlistMatchesCidrBlocksAndMappedAddresses() throws Exception {
    SourceAllowlist allow = SourceAllowlist.parse(List.of("10.1.0.0/16", "192.168.7.7",
        "fd00::/8"));
    assertThat(allow.allows(InetAddress.getByName("10.1.200.3"))).isTrue();
    assertThat(allow.allows(InetAddress.getByName("10.2.0.1"))).isFalse();
    assertThat(allow.allows(InetAddress.getByName("192.168.7.7"))).isTrue();
    assertThat(allow.allows(InetAddress.getByName("192.168.7.8"))).isFalse();
    assertThat(allow.allows(InetAddress.getByName("fd12::1"))).isTrue();
    assertThat(allow.allows(InetAddress.getByName("fe80::1"))).isFalse();
    assertThat(allow.allows(null)).isFalse();
    SourceAllowlist def = SourceAllowlist.defaults();
    assertThat(def.allows(InetAddress.getByName("127.0.0.1"))).isTrue();
    assertThat(def.allows(InetAddress.getByName("::1"))).isTrue();
    assertThat(def.allows(InetAddress.getByName("8.8.8.8"))).isFalse();
    assertThat(SourceAllowlist.parse(List.of("0.0.0.0/0"))
        .allows(InetAddress.getByName("8.8.8.8"))).isTrue();
  }

  @Test
  void allowlistRejectsBadEntriesNamingThem() {
    for (String bad : List.of("", "10.0.0.0/33", "example.com", "10.0.0.0/x", "::1/129")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> SourceAllowlist.parse(List.of(bad)));
      assertThat(e.getMessage()).contains("'" + bad + "'");
    }
  }

  @Test
  void stateTable() {
    assertThat(ConnectionState.READING.next(Event.QUEUE_BUSY, true))
        .isEqualTo(ConnectionState.PAUSED);
    assertThat(ConnectionState.PAUSED.next(Event.ROOM, false)).isEqualTo(ConnectionState.READING);
    assertThat(ConnectionState.PAUSED.next(Event.STOP, true)).isEqualTo(ConnectionState.CLOSING);
    assertThat(ConnectionState.PAUSED.next(Event.INACTIVE, true))
        .isEqualTo(ConnectionState.PEER_CLOSED_HOLDING);
    assertThat(ConnectionState.READING.next(Event.INACTIVE, false))
        .isEqualTo(ConnectionState.FINISHED);
    assertThat(ConnectionState.PEER_CLOSED_HOLDING.next(Event.ROOM, false))
        .isEqualTo(ConnectionState.FINISHED);
    assertThat(ConnectionState.CLOSING.next(Event.STOP, false)).isEqualTo(ConnectionState.CLOSING);
    assertThat(ConnectionState.CLOSING.next(Event.SHUTDOWN, true))
        .isEqualTo(ConnectionState.FINISHED);
    assertThrows(IllegalStateException.class,
        () -> ConnectionState.FINISHED.next(Event.QUEUE_BUSY, false));
  }
}
