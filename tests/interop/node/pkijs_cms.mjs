#!/usr/bin/env node
// PKI.js as an interop peer of bidcrypt: open or make a CMS EnvelopedData the way a browser-based
// bidding platform does (PKI.js on WebCrypto, here Node's globalThis.crypto).
//
//   node pkijs_cms.mjs decrypt ENVELOPE CERT KEY OUT    open ENVELOPE (DER or BER ContentInfo) with the
//                                                      recipient's certificate and PKCS#8 private key
//   node pkijs_cms.mjs encrypt PLAIN CERT OUT [OAEPHASH] make an EnvelopedData (AES-256-CBC) to CERT with
//                                                      PKI.js's defaults (RSA-OAEP with SHA-512; for an
//                                                      EC certificate ECDH, SHA-512 KDF, AES-256 wrap)
//
// CERT and KEY are PEM or DER files. The recipient to open is the one whose identifier names CERT
// (issuer and serial number, or its SubjectKeyIdentifier); no other is tried. Exit status 0 on
// success; on failure 1, with PKI.js's error on stderr.
import { readFileSync, writeFileSync } from "node:fs";
import { webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

const ENVELOPED_DATA = "1.2.840.113549.1.7.3";
const SUBJECT_KEY_IDENTIFIER = "2.5.29.14";

pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto }));

function readDer(path) {
  const bytes = readFileSync(path);
  const text = bytes.toString("latin1");
  if (!text.startsWith("-----BEGIN")) {
    return new Uint8Array(bytes);
  }
  const body = text.replace(/-----(BEGIN|END)[^-]*-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(body, "base64"));
}

function parse(bytes, what) {
  const parsed = asn1js.fromBER(bytes);
  if (parsed.offset === -1) {
    throw new Error(`${what}: asn1js cannot parse it: ${parsed.result.error}`);
  }
  if (parsed.offset !== bytes.byteLength) {
    throw new Error(`${what}: ${bytes.byteLength - parsed.offset} bytes after the end`);
  }
  return parsed.result;
}

function loadCertificate(path) {
  return new pkijs.Certificate({ schema: parse(readDer(path), "certificate") });
}

function subjectKeyIdentifier(certificate) {
  const extension = (certificate.extensions || []).find((e) => e.extnID === SUBJECT_KEY_IDENTIFIER);
  return extension ? Buffer.from(extension.parsedValue.valueBlock.valueHexView) : null;
}

function namesCertificate(rid, certificate) {
  if (rid instanceof pkijs.IssuerAndSerialNumber) {
    return rid.issuer.isEqual(certificate.issuer) && rid.serialNumber.isEqual(certificate.serialNumber);
  }
  const ski = subjectKeyIdentifier(certificate);
  const named = rid instanceof pkijs.RecipientKeyIdentifier ? rid.subjectKeyIdentifier : rid;
  return ski !== null && Buffer.from(named.valueBlock.valueHexView).equals(ski);
}

function recipientIndex(enveloped, certificate) {
  const found = enveloped.recipientInfos.findIndex((info) => {
    if (info.variant === 1) {
      return namesCertificate(info.value.rid, certificate);
    }
    if (info.variant === 2) {
      return info.value.recipientEncryptedKeys.encryptedKeys.some((key) => namesCertificate(key.rid.value, certificate));
    }
    return false;
  });
  if (found === -1) {
    throw new Error("no recipient names this certificate");
  }
  return found;
}

async function decrypt(envelopePath, certPath, keyPath, outPath) {
  const contentInfo = new pkijs.ContentInfo({ schema: parse(readDer(envelopePath), "envelope") });
  if (contentInfo.contentType !== ENVELOPED_DATA) {
    throw new Error(`not an EnvelopedData: content type ${contentInfo.contentType}`);
  }
  const enveloped = new pkijs.EnvelopedData({ schema: contentInfo.content });
  const certificate = loadCertificate(certPath);
  const plaintext = await enveloped.decrypt(recipientIndex(enveloped, certificate), {
    recipientCertificate: certificate,
    recipientPrivateKey: readDer(keyPath),
  });
  writeFileSync(outPath, Buffer.from(plaintext));
}

async function encrypt(plainPath, certPath, outPath, oaepHash) {
  const enveloped = new pkijs.EnvelopedData();
  const parameters = oaepHash ? { oaepHashAlgorithm: oaepHash } : {};
  enveloped.addRecipientByCertificate(loadCertificate(certPath), parameters);
  await enveloped.encrypt({ name: "AES-CBC", length: 256 }, new Uint8Array(readFileSync(plainPath)));
  const contentInfo = new pkijs.ContentInfo({ contentType: ENVELOPED_DATA, content: enveloped.toSchema() });
  writeFileSync(outPath, Buffer.from(contentInfo.toSchema().toBER(false)));
}

const [command, ...args] = process.argv.slice(2);
const commands = { decrypt: [decrypt, 4, 4], encrypt: [encrypt, 3, 4] };
if (!(command in commands) || args.length < commands[command][1] || args.length > commands[command][2]) {
  process.stderr.write("usage: pkijs_cms.mjs decrypt ENVELOPE CERT KEY OUT | encrypt PLAIN CERT OUT [OAEPHASH]\n");
  process.exit(2);
}
try {
  await commands[command][0](...args);
} catch (error) {
  process.stderr.write(`pkijs ${command}: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
}
