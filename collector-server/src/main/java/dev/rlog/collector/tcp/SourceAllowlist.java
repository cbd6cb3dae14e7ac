package dev.rlog.collector.tcp;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * The networks allowed to connect to the raw TCP port, as CIDR blocks ({@code 10.0.0.0/8},
 * {@code ::1/128}; a bare address means that one host). The port has no authentication, so the
 * default ({@link #DEFAULT}) is loopback only. IPv4-mapped IPv6 peers are matched as IPv4.
 * Immutable, thread-safe.
 */
public final class SourceAllowlist {
  /** Loopback only: ops list the networks of their senders. */
  public static final List<String> DEFAULT = List.of("127.0.0.0/8", "::1/128");

  private record Block(byte[] network, int prefix) {
    boolean contains(byte[] addr) {
      if (addr.length != network.length) {
        return false;
      }
      int full = prefix / 8;
      for (int i = 0; i < full; i++) {
        if (addr[i] != network[i]) {
          return false;
        }
      }
      int rest = prefix % 8;
      if (rest == 0) {
        return true;
      }
      int mask = (0xff << (8 - rest)) & 0xff;
      return (addr[full] & mask) == (network[full] & mask);
    }
  }

  private final List<Block> blocks;
  private final List<String> cidrs;

  private SourceAllowlist(List<Block> blocks, List<String> cidrs) {
    this.blocks = blocks;
    this.cidrs = cidrs;
  }

  /**
   * Parses CIDR blocks (numeric addresses only, no host names).
   *
   * @throws IllegalArgumentException naming the first bad entry
   */
  public static SourceAllowlist parse(List<String> cidrs) {
    List<Block> blocks = new ArrayList<>();
    for (String c : cidrs) {
      String s = c == null ? "" : c.trim();
      int slash = s.indexOf('/');
      String host = slash < 0 ? s : s.substring(0, slash);
      if (host.isEmpty() || !(host.contains(":") || host.matches("[0-9.]+"))) {
        throw new IllegalArgumentException("'" + c + "' is not a numeric CIDR block");
      }
      byte[] addr;
      try {
        addr = InetAddress.getByName(host).getAddress(); // numeric: no lookup
      } catch (UnknownHostException e) {
        throw new IllegalArgumentException("'" + c + "' is not a numeric CIDR block");
      }
      int prefix = addr.length * 8;
      if (slash >= 0) {
        try {
          prefix = Integer.parseInt(s.substring(slash + 1));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("'" + c + "' has a bad prefix length");
        }
        if (prefix < 0 || prefix > addr.length * 8) {
          throw new IllegalArgumentException("'" + c + "' has a prefix length outside 0.."
              + addr.length * 8);
        }
      }
      blocks.add(new Block(addr, prefix));
    }
    return new SourceAllowlist(List.copyOf(blocks), List.copyOf(cidrs));
  }

  static SourceAllowlist defaults() {
    return parse(DEFAULT);
  }

  boolean allows(InetAddress peer) {
    if (peer == null) {
      return false;
    }
    byte[] addr = peer.getAddress();
    if (peer instanceof Inet6Address && isV4Mapped(addr)) {
      addr = new byte[] {addr[12], addr[13], addr[14], addr[15]};
    }
    for (Block b : blocks) {
      if (b.contains(addr)) {
        return true;
      }
    }
    return false;
  }

  List<String> cidrs() {
    return cidrs;
  }

  private static boolean isV4Mapped(byte[] a) {
    for (int i = 0; i < 10; i++) {
      if (a[i] != 0) {
        return false;
      }
    }
    return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
  }

  @Override
  public String toString() {
    return String.join(", ", cidrs);
  }

}
