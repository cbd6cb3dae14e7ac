package dev.rlog.common.tls;

import java.nio.file.Path;

/**
 * The PEM files of one side of a TLS connection, as named in a config file.
 *
 * @param cert this side's certificate chain (leaf first); null for an agent without a client
 *     certificate
 * @param key the private key of {@code cert} (PKCS#8); null exactly when {@code cert} is
 * @param ca CA certificates to check the peer against: on the collector the client CA (mutual
 *     TLS when set), on the agent the collector's CA (the system CAs when null)
 */
public record TlsFiles(Path cert, Path key, Path ca) {
  public TlsFiles {
    if ((cert == null) != (key == null)) {
      throw new IllegalArgumentException("cert and key go together");
    }
  }

  /** True when this side presents a certificate. */
  public boolean hasCertificate() {
    return cert != null;
  }
}
