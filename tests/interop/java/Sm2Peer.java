// BouncyCastle (Debian's libbcprov-java / libbcpkix-java 1.72) as an SM2 interop peer of bidcrypt.
//
// One JVM runs a batch: each line of standard input is one command, its fields separated by tabs;
// each command answers with one line on standard output, "ok" or "ok\t<hex>" on success and
// "error\t<message>" on failure (the batch goes on). Keys are PEM files (PKCS#8 "PRIVATE KEY",
// SubjectPublicKeyInfo "PUBLIC KEY" or a "CERTIFICATE"); data travels as hex on standard input, so no
// secret is ever on the command line. "-" as an ID means SM2Signer's default, 1234567812345678.
//
//   encrypt   C1C3C2|C1C2C3  PUBLIC.pem  PLAIN-hex             SM2Engine, raw output with the 04 prefix
//   decrypt   C1C3C2|C1C2C3  PRIVATE.pem CIPHER-hex            SM2Engine
//   sign      PRIVATE.pem    ID-hex|-    MESSAGE-hex           SM2Signer (SM3, Z of the ID), DER signature
//   verify    PUBLIC.pem     ID-hex|-    MESSAGE-hex  SIG-hex  answers "ok\ttrue" or "ok\tfalse"
//   cms-sign  PRIVATE.pem    CERT.pem    CONTENT-file OUT-file [detached]
//                                        CMSSignedDataGenerator, SM3withSM2, signed attributes, the
//                                        content encapsulated unless "detached"
//   cms-verify CMS-file      CERT.pem    [CONTENT-file]        every SignerInfo verifies with CERT
//                                        (JcaSimpleSignerInfoVerifierBuilder, BC provider); answers
//                                        "ok\t<number of signers>"
//   chain     WHEN  ROOT.pem  LEAF.pem  [INTERMEDIATE.pem ...]   (the leaf's issuer first)
//                                        PKIX CertPathValidator (BC provider, no revocation check) at
//                                        WHEN, "now" or seconds since the epoch; answers "ok\tvalid"
//                                        or "ok\tinvalid: <reason>" (BC sorts the certificates itself)
//   crl       CRL.pem        ISSUER.pem  X509CRL.verify with the issuer's key (SM3withSM2, default ID);
//                                        answers "ok\t<revoked serial numbers in hex, comma-separated>"
//
// The tests compile this file with javac against /usr/share/java/bcprov.jar, bcpkix.jar, bcutil.jar.
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.FileReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Security;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CRL;
import java.security.cert.X509CRLEntry;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Date;
import java.util.List;
import java.util.Set;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.crypto.CipherParameters;
import org.bouncycastle.crypto.engines.SM2Engine;
import org.bouncycastle.crypto.params.AsymmetricKeyParameter;
import org.bouncycastle.crypto.params.ParametersWithID;
import org.bouncycastle.crypto.params.ParametersWithRandom;
import org.bouncycastle.crypto.signers.SM2Signer;
import org.bouncycastle.crypto.util.PrivateKeyFactory;
import org.bouncycastle.crypto.util.PublicKeyFactory;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.util.encoders.Hex;

public final class Sm2Peer {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Sm2Peer() {}

    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            String[] fields = line.split("\t", -1);
            String answer;
            try {
                answer = run(fields);
            } catch (Exception e) {
                String message = e.getClass().getSimpleName() + ": " + e.getMessage();
                answer = "error\t" + message.replace('\t', ' ').replace('\n', ' ').replace('\r', ' ');
            }
            out.println(answer);
        }
        out.flush();
    }

    private static String run(String[] f) throws Exception {
        switch (f[0]) {
            case "encrypt":
                return ok(engine(f[1], true, publicKey(f[2]), Hex.decode(f[3])));
            case "decrypt":
                return ok(engine(f[1], false, privateKey(f[2]), Hex.decode(f[3])));
            case "sign": {
                SM2Signer signer = new SM2Signer();
                signer.init(true, withId(new ParametersWithRandom(privateKey(f[1]), RANDOM), f[2]));
                byte[] message = Hex.decode(f[3]);
                signer.update(message, 0, message.length);
                return ok(signer.generateSignature());
            }
            case "verify": {
                SM2Signer signer = new SM2Signer();
                signer.init(false, withId(publicKey(f[1]), f[2]));
                byte[] message = Hex.decode(f[3]);
                signer.update(message, 0, message.length);
                return "ok\t" + signer.verifySignature(Hex.decode(f[4]));
            }
            case "cms-sign":
                cmsSign(f[1], f[2], f[3], f[4], f.length > 5 && f[5].equals("detached"));
                return "ok";
            case "cms-verify":
                return "ok\t" + cmsVerify(f[1], f[2], f.length > 3 ? f[3] : null);
            case "chain":
                return "ok\t" + chain(f);
            case "crl":
                return "ok\t" + crl(f[1], f[2]);
            default:
                throw new IllegalArgumentException("unknown command " + f[0]);
        }
    }

    private static String ok(byte[] result) {
        return "ok\t" + Hex.toHexString(result);
    }

    private static byte[] engine(String order, boolean encrypt, AsymmetricKeyParameter key, byte[] input)
            throws Exception {
        SM2Engine engine = new SM2Engine(SM2Engine.Mode.valueOf(order));
        CipherParameters parameters = encrypt ? new ParametersWithRandom(key, RANDOM) : key;
        engine.init(encrypt, parameters);
        return engine.processBlock(input, 0, input.length);
    }

    private static CipherParameters withId(CipherParameters parameters, String idHex) {
        return idHex.equals("-") ? parameters : new ParametersWithID(parameters, Hex.decode(idHex));
    }

    private static Object readPem(String path) throws Exception {
        try (PEMParser parser = new PEMParser(new FileReader(path, StandardCharsets.US_ASCII))) {
            Object object = parser.readObject();
            if (object == null) {
                throw new IllegalArgumentException(path + ": no PEM object");
            }
            return object;
        }
    }

    private static AsymmetricKeyParameter privateKey(String path) throws Exception {
        Object object = readPem(path);
        if (!(object instanceof PrivateKeyInfo)) {
            throw new IllegalArgumentException(path + ": not a PKCS#8 private key");
        }
        return PrivateKeyFactory.createKey((PrivateKeyInfo) object);
    }

    private static AsymmetricKeyParameter publicKey(String path) throws Exception {
        Object object = readPem(path);
        if (object instanceof X509CertificateHolder) {
            object = ((X509CertificateHolder) object).getSubjectPublicKeyInfo();
        }
        if (!(object instanceof SubjectPublicKeyInfo)) {
            throw new IllegalArgumentException(path + ": not a public key or certificate");
        }
        return PublicKeyFactory.createKey((SubjectPublicKeyInfo) object);
    }

    private static X509Certificate certificate(String path) throws Exception {
        CertificateFactory factory = CertificateFactory.getInstance("X.509", "BC");
        try (InputStream stream = new FileInputStream(path)) {
            return (X509Certificate) factory.generateCertificate(stream);
        }
    }

    private static void cmsSign(String keyPath, String certPath, String contentPath, String outPath,
            boolean detached) throws Exception {
        PrivateKey key = new JcaPEMKeyConverter().setProvider("BC")
                .getPrivateKey((PrivateKeyInfo) readPem(keyPath));
        X509Certificate cert = certificate(certPath);
        ContentSigner signer = new JcaContentSignerBuilder("SM3withSM2").setProvider("BC").build(key);
        CMSSignedDataGenerator generator = new CMSSignedDataGenerator();
        generator.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(
                new JcaDigestCalculatorProviderBuilder().setProvider("BC").build()).build(signer, cert));
        generator.addCertificates(new JcaCertStore(Collections.singletonList(cert)));
        byte[] content = Files.readAllBytes(Paths.get(contentPath));
        CMSSignedData signed = generator.generate(new CMSProcessableByteArray(content), !detached);
        Files.write(Paths.get(outPath), signed.getEncoded("DER"));
    }

    private static int cmsVerify(String cmsPath, String certPath, String contentPath) throws Exception {
        byte[] encoded = Files.readAllBytes(Paths.get(cmsPath));
        CMSSignedData signed = contentPath == null
                ? new CMSSignedData(encoded)
                : new CMSSignedData(new CMSProcessableByteArray(Files.readAllBytes(Paths.get(contentPath))), encoded);
        X509Certificate cert = certificate(certPath);
        Collection<SignerInformation> signers = signed.getSignerInfos().getSigners();
        if (signers.isEmpty()) {
            throw new IllegalArgumentException("no SignerInfo");
        }
        for (SignerInformation signer : signers) {
            if (!signer.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(cert))) {
                throw new SecurityException("the signature of a SignerInfo does not verify");
            }
        }
        return signers.size();
    }

    private static String chain(String[] f) throws Exception {
        X509Certificate root = certificate(f[2]);
        List<X509Certificate> path = new ArrayList<>();
        path.add(certificate(f[3]));
        for (int i = 4; i < f.length; i++) {
            path.add(certificate(f[i]));
        }
        CertPath certPath = CertificateFactory.getInstance("X.509", "BC").generateCertPath(path);
        PKIXParameters parameters = new PKIXParameters(Collections.singleton(new TrustAnchor(root, null)));
        parameters.setRevocationEnabled(false);
        if (!f[1].equals("now")) {
            parameters.setDate(new Date(Long.parseLong(f[1]) * 1000L));
        }
        try {
            CertPathValidator.getInstance("PKIX", "BC").validate(certPath, parameters);
            return "valid";
        } catch (CertPathValidatorException e) {
            return ("invalid: " + e.getMessage()).replace('\t', ' ').replace('\n', ' ');
        }
    }

    private static String crl(String crlPath, String issuerPath) throws Exception {
        X509CRL crl;
        try (InputStream stream = new FileInputStream(crlPath)) {
            crl = (X509CRL) CertificateFactory.getInstance("X.509", "BC").generateCRL(stream);
        }
        crl.verify(certificate(issuerPath).getPublicKey(), "BC");
        List<String> serials = new ArrayList<>();
        Set<? extends X509CRLEntry> entries = crl.getRevokedCertificates();
        if (entries != null) {
            for (X509CRLEntry entry : entries) {
                serials.add(entry.getSerialNumber().toString(16));
            }
        }
        Collections.sort(serials);
        return String.join(",", serials);
    }
}
