package dev.rlog.common.tls;

import java.math.BigInteger;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.IPAddress;

/**
 * A small private CA for a first setup: creates its own self-signed certificate, then issues
 * server certificates (names and IP addresses as subject alternative names, TLS server use) and
 * client certificates (TLS client use, for mutual TLS). Keys are EC P-256, signatures
 * SHA256withECDSA; the JDK makes the keys and signs, Bouncy Castle only builds the certificate
 * structures (it is not registered as a security provider).
 *
 * <p>Needs {@code org.bouncycastle:bcpkix-jdk18on} on the class path (an optional dependency of
 * this module). Immutable and thread-safe.
 */
public final class CertificateAuthority {
  public static final Duration DEFAULT_CA_VALIDITY = Duration.ofDays(3650);
  /** Below the 825 days some TLS clients accept for a server certificate. */
  public static final Duration DEFAULT_LEAF_VALIDITY = Duration.ofDays(825);
  /** Certificates are valid from a little before their creation: clocks drift. */
  static final Duration BACKDATE = Duration.ofHours(1);

  private static final Pattern IPV4_LIKE = Pattern.compile("[0-9.]+");
  private static final Pattern DNS_NAME =
      Pattern.compile("(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*\\.?");
  private static final SecureRandom RANDOM = new SecureRandom();

  /** A certificate and its private key. */
  public record Issued(X509Certificate certificate, PrivateKey key) {
    public String certificatePem() {
      try {
        return PemFiles.encode(PemFiles.CERTIFICATE, certificate.getEncoded());
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("cannot encode a certificate we made", e);
      }
    }

    public String keyPem() {
      return PemFiles.encode(PemFiles.PRIVATE_KEY, key.getEncoded());
    }

    /** Never shows the key. */
    @Override
    public String toString() {
      return "Issued[" + certificate.getSubjectX500Principal() + "]";
    }
  }

  private final Issued ca;

  private CertificateAuthority(Issued ca) {
    this.ca = ca;
  }

  /** A new CA named {@code commonName}, valid from now for {@code validity}. */
  public static CertificateAuthority create(String commonName, Instant now, Duration validity) {
    KeyPair kp = newKeyPair();
    X500Name name = name(commonName);
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = builder(name, name, kp.getPublic(), now, validity)
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true,
              new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false,
              ext.createSubjectKeyIdentifier(kp.getPublic()));
      return new CertificateAuthority(new Issued(sign(b, kp.getPrivate()), kp.getPrivate()));
    } catch (CertIOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot create a CA certificate", e);
    }
  }

  /** The CA whose certificate and key were written earlier (e.g. by {@code tls init}). */
  public static CertificateAuthority load(Path certFile, Path keyFile) throws PemException {
    X509Certificate cert = PemFiles.readCertificates(certFile).get(0);
    PrivateKey key = PemFiles.readPrivateKey(keyFile);
    if (!PemFiles.matches(key, cert)) {
      throw new PemException(keyFile + ": not the private key of the CA certificate in "
          + certFile);
    }
    if (cert.getBasicConstraints() < 0) {
      throw new PemException(certFile + ": not a CA certificate");
    }
    return new CertificateAuthority(new Issued(cert, key));
  }

  public Issued ca() {
    return ca;
  }

  /**
   * A server certificate for {@code hosts}: DNS names and IP literals, each a subject
   * alternative name (clients check the name they dialled against these); the first is also the
   * common name.
   *
   * @throws IllegalArgumentException if {@code hosts} is empty or holds something that is neither
   */
  public Issued issueServer(List<String> hosts, Instant now, Duration validity) {
    if (hosts.isEmpty()) {
      throw new IllegalArgumentException("at least one host name or IP address is required");
    }
    List<GeneralName> names = new ArrayList<>();
    for (String h : hosts) {
      names.add(generalName(h));
    }
    return issue(hosts.get(0), now, validity, KeyPurposeId.id_kp_serverAuth,
        new GeneralNames(names.toArray(GeneralName[]::new)));
  }

  /** A client certificate named {@code commonName}, for mutual TLS. */
  public Issued issueClient(String commonName, Instant now, Duration validity) {
    return issue(commonName, now, validity, KeyPurposeId.id_kp_clientAuth, null);
  }

  private Issued issue(String commonName, Instant now, Duration validity, KeyPurposeId purpose,
      GeneralNames altNames) {
    KeyPair kp = newKeyPair();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = builder(
          X500Name.getInstance(ca.certificate().getSubjectX500Principal().getEncoded()),
          name(commonName), kp.getPublic(), now, validity)
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
          .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose))
          .addExtension(Extension.subjectKeyIdentifier, false,
              ext.createSubjectKeyIdentifier(kp.getPublic()))
          .addExtension(Extension.authorityKeyIdentifier, false,
              ext.createAuthorityKeyIdentifier(ca.certificate()));
      if (altNames != null) {
        b.addExtension(Extension.subjectAlternativeName, false, altNames);
      }
      return new Issued(sign(b, ca.key()), kp.getPrivate());
    } catch (CertIOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot issue a certificate", e);
    }
  }

  /** An IP literal becomes an IP address name, anything else must be a DNS name. */
  static GeneralName generalName(String host) {
    String h = host.strip();
    if (IPV4_LIKE.matcher(h).matches() || h.indexOf(':') >= 0) {
      String literal = h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
      // Parsed, never looked up (InetAddress would resolve anything that is not a literal).
      if (!IPAddress.isValidIPv4(literal) && !IPAddress.isValidIPv6(literal)) {
        throw new IllegalArgumentException("'" + host + "' is not a valid IP address");
      }
      return new GeneralName(GeneralName.iPAddress, literal);
    }
    if (h.isEmpty() || h.length() > 253 || !DNS_NAME.matcher(h).matches()) {
      throw new IllegalArgumentException("'" + host + "' is neither a DNS name nor an IP address");
    }
    return new GeneralName(GeneralName.dNSName, h.toLowerCase(Locale.ROOT));
  }

  private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject,
      PublicKey key, Instant now, Duration validity) {
    if (validity.isNegative() || validity.isZero()) {
      throw new IllegalArgumentException("validity must be positive, got " + validity);
    }
    // 159 random bits: positive, unique, and under the 20-octet limit.
    BigInteger serial = new BigInteger(159, RANDOM).setBit(0);
    return new JcaX509v3CertificateBuilder(issuer, serial, Date.from(now.minus(BACKDATE)),
        Date.from(now.plus(validity)), subject, key);
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer)
      throws GeneralSecurityException {
    try {
      ContentSigner s = new JcaContentSignerBuilder("SHA256withECDSA").build(signer);
      return new JcaX509CertificateConverter().getCertificate(b.build(s));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException("cannot sign", e);
    }
  }

  private static X500Name name(String commonName) {
    if (commonName == null || commonName.isBlank()) {
      throw new IllegalArgumentException("a certificate name must not be empty");
    }
    return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName.strip()).build();
  }

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK cannot make EC P-256 keys", e);
    }
  }
}
