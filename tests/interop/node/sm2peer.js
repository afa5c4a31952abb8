#!/usr/bin/env node
// sm-crypto and sm-crypto-v2 (npm), the SM2/SM3/SM4 of Chinese web platforms, as interop peers of bidcrypt.
//
//   node sm2peer.js sm-crypto|sm-crypto-v2  < REQUEST.json  > ANSWER.json
//
// One process runs a batch. The request on standard input is a JSON array of operations; the answer on
// standard output is a JSON array with one entry per operation, {"ok": <result>} or {"error": "<message>"}
// (the batch goes on after a failure). Bytes travel as lowercase hex; keys are hex as these libraries
// take them (a public key is the point 04||x||y, a private key the 32-byte scalar), on standard input,
// never on the command line.
//
//   {"op": "encrypt", "mode": 1|0, "publicKey", "data"}   SM2 doEncrypt, cipherMode 1 = C1C3C2,
//                                                          0 = C1C2C3; hex without the 04 prefix
//   {"op": "decrypt", "mode": 1|0, "privateKey", "data"}  SM2 doDecrypt (data without the 04 prefix);
//                                                          a failure is an error, never an empty result
//   {"op": "sign", "privateKey", "publicKey", "userId", "data"}
//                                                          doSignature {der: true, hash: true, userId}:
//                                                          SM2-with-SM3 with Z, DER signature
//   {"op": "verify", "publicKey", "userId", "data", "signature"}   true or false
//   {"op": "sm3", "data"}                                  the digest
//   {"op": "sm4-encrypt", "key", "iv", "data"}             SM4-CBC with PKCS#7 padding
//   {"op": "sm4-decrypt", "key", "iv", "data"}
//
// "userId" is the distinguishing ID as a string (both libraries take it as UTF-8); absent means the
// libraries' default, 1234567812345678.
"use strict";

const LIBRARIES = { "sm-crypto": () => require("sm-crypto"), "sm-crypto-v2": () => require("sm-crypto-v2") };

function bytes(hex) {
  if (typeof hex !== "string" || !/^([0-9a-f]{2})*$/i.test(hex)) {
    throw new Error("expected hex bytes");
  }
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

function hex(array) {
  return Buffer.from(array).toString("hex");
}

function signOptions(operation) {
  const options = { der: true, hash: true };
  if (operation.userId !== undefined) {
    options.userId = operation.userId;
  }
  return options;
}

function run(lib, operation) {
  switch (operation.op) {
    case "encrypt":
      return lib.sm2.doEncrypt(bytes(operation.data), operation.publicKey, operation.mode);
    case "decrypt": {
      const plain = lib.sm2.doDecrypt(operation.data, operation.privateKey, operation.mode, { output: "array" });
      // Both libraries report a failed C3 check as an empty result (or null), which no SM2 ciphertext
      // of a non-empty plaintext decrypts to: make it an error.
      if (!plain || plain.length === 0) {
        throw new Error("decryption failed (empty result)");
      }
      return hex(plain);
    }
    case "sign":
      return lib.sm2.doSignature(bytes(operation.data), operation.privateKey, {
        ...signOptions(operation),
        publicKey: operation.publicKey,
      });
    case "verify":
      return lib.sm2.doVerifySignature(
        bytes(operation.data),
        operation.signature,
        operation.publicKey,
        signOptions(operation),
      );
    case "sm3":
      return hex(bytes(lib.sm3(bytes(operation.data))));
    case "sm4-encrypt":
      return hex(lib.sm4.encrypt(bytes(operation.data), operation.key, { mode: "cbc", iv: operation.iv, output: "array" }));
    case "sm4-decrypt":
      return hex(lib.sm4.decrypt(bytes(operation.data), operation.key, { mode: "cbc", iv: operation.iv, output: "array" }));
    default:
      throw new Error(`unknown op ${operation.op}`);
  }
}

function main() {
  const name = process.argv[2];
  if (!(name in LIBRARIES)) {
    process.stderr.write(`usage: node sm2peer.js ${Object.keys(LIBRARIES).join("|")} < request.json\n`);
    process.exit(2);
  }
  const lib = LIBRARIES[name]();
  const request = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
  const answers = request.map((operation) => {
    try {
      return { ok: run(lib, operation) };
    } catch (error) {
      return { error: String(error && error.message ? error.message : error) };
    }
  });
  process.stdout.write(JSON.stringify(answers));
}

main();
